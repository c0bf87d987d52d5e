import type { ServiceHandle } from "./services.js";
import { waitFor } from "./wait-for.js";

/**
 * A signal (SIGKILL unless told) to the service's whole process group when it was started with
 * `ownProcessGroup` (else to its PID), then waits until it has exited and its port no longer
 * answers: after this, nothing the service started still serves or holds a connection.
 */
export async function killProcessGroup(handle: ServiceHandle, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (handle.pid === undefined) throw new Error(`${handle.name} has no pid`);
  try {
    process.kill(handle.ownProcessGroup ? -handle.pid : handle.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
  await handle.exited();
  await waitFor(
    async () => {
      try {
        await fetch(`${handle.url}/healthz`, { signal: AbortSignal.timeout(500) });
        return false;
      } catch {
        return true;
      }
    },
    { timeoutMs: 5_000, what: `${handle.name} on ${handle.port} to be gone` },
  );
}

/** SIGKILL to whatever is left of a stopped service's process group (a no-op without `ownProcessGroup`). */
export function killGroupQuietly(handle: ServiceHandle): void {
  if (handle.pid === undefined || !handle.ownProcessGroup) return;
  try {
    process.kill(-handle.pid, "SIGKILL");
  } catch {
    // ESRCH: the whole group is gone already.
  }
}
