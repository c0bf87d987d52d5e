import type { PublishRecord } from "./ledger.js";

/** A span on a load's clock ({@link SignalLoad.clock}) during which a fault was in force. */
export interface FaultWindow {
  from: number;
  to: number;
}

export interface FaultSeen {
  /** Attempts that overlapped the window and got no 2xx (an error status, a timeout, a refused connection). */
  failedAttempts: number;
  /** Publishes with an attempt overlapping the window, and among them the longest from first try to 2xx (ms). */
  publishes: number;
  longestToAcceptMs: number;
}

/**
 * What a publishing client saw of a fault, from its own record: a fault test asserts the fault
 * really reached the clients, so a green run cannot be a fault that never happened.
 */
export function faultSeen(records: PublishRecord[], window: FaultWindow): FaultSeen {
  let failedAttempts = 0;
  let publishes = 0;
  let longestToAcceptMs = 0;
  for (const record of records) {
    const overlapping = record.attempts.filter((a) => a.startedAt <= window.to && a.endedAt >= window.from);
    if (overlapping.length === 0) continue;
    publishes++;
    failedAttempts += overlapping.filter((a) => a.status === undefined || a.status >= 300).length;
    const first = record.attempts[0];
    if (record.acceptedAt !== undefined && first)
      longestToAcceptMs = Math.max(longestToAcceptMs, record.acceptedAt - first.startedAt);
  }
  return { failedAttempts, publishes, longestToAcceptMs };
}
