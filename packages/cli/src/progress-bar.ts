import type { CliIo } from "./cli.js";

const BAR_WIDTH = 30;
/** Redraws at most this often: a bar drawn per event would cost more than the replay. */
const REDRAW_MS = 100;

/** A bar redrawn in place when stderr is a terminal; otherwise one plain count at the end. */
export function progressOf(
  total: number,
  io: Pick<CliIo, "stderr" | "stderrIsTTY">,
  now: () => number = Date.now,
): (done: number, last?: boolean) => void {
  let drawn = 0;
  return (done, last = false) => {
    if (!io.stderrIsTTY) {
      if (last) io.stderr(`replayed ${done} of ${total} events\n`);
      return;
    }
    const at = now();
    if (!last && at - drawn < REDRAW_MS) return;
    drawn = at;
    const filled = Math.round((done / total) * BAR_WIDTH);
    const percent = Math.floor((done / total) * 100);
    io.stderr(
      `\r[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${percent}% ${done}/${total}${last ? "\n" : ""}`,
    );
  };
}
