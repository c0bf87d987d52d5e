import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";

/**
 * A ~300-byte JSON message shaped like a trading signal (the document's): the payload of R1 and R3,
 * and with an id of the caller's (N2, N3) the message Nchan delivers.
 */
export function rawMessage(i: number | string): string {
  const base = {
    id: typeof i === "string" ? i : `sig-${String(i).padStart(10, "0")}`,
    ...DOCUMENT_TRADING_SIGNAL_BODY,
    timestamp: "2026-11-21T10:00:00.000Z",
    note: "",
  };
  const text = JSON.stringify(base);
  return JSON.stringify({ ...base, note: "x".repeat(Math.max(0, 300 - text.length)) });
}
