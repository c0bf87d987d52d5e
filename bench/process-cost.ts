/**
 * What each process of the pipeline spends per event: CPU time (user + system, from
 * /proc/<pid>/stat) and bytes through read/write system calls (rchar + wchar of /proc/<pid>/io:
 * sockets and files alike), as deltas over a measured interval divided by the events it handled.
 * Read by the runner from outside, so the services pay nothing for being measured.
 */
import { readFileSync } from "node:fs";

/** The kernel's clock ticks per second (`getconf CLK_TCK`): 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

/** The processes a benchmark charges, by component name (undefined: not running, not charged). */
export type Components = Record<string, number | undefined>;

export interface ProcessUse {
  cpuMs: number;
  ioBytes: number;
}

/**
 * The fields of /proc/<pid>/stat after the command name, from field 3 (state) on: index 0 is the
 * state, 1 the parent's pid, 11 and 12 utime and stime. Throws when the process is gone.
 */
export function procStatFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU time and I/O bytes a process has used since it started; undefined once it has exited. */
export function processUse(pid: number): ProcessUse | undefined {
  try {
    const fields = procStatFields(pid);
    const ticks = Number(fields[11]) + Number(fields[12]);
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const bytes = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? 0);
    return { cpuMs: (ticks * 1000) / TICKS_PER_SECOND, ioBytes: bytes("rchar") + bytes("wchar") };
  } catch {
    return undefined;
  }
}

/**
 * Resident memory of a process now (VmRSS of /proc/<pid>/status), in bytes; undefined once it has
 * exited. For processes that export no RSS metric of their own (the front of B3x2, NATS and Redis in the soak).
 */
export function residentBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export interface CostMeter {
  /**
   * Per-event figures `<id>.cpu.<component>` (µs) and `<id>.bytes.<component>` (B) since the meter
   * started, plus `<id>.cpu.total`. A component whose process changed (restarted) is left out.
   */
  finish(events: number): Record<string, number>;
}

/** Starts measuring `components` now; `id` prefixes the figures (e.g. "B1"). */
export function startCostMeter(id: string, components: Components): CostMeter {
  const before = new Map<string, { pid: number; use: ProcessUse }>();
  for (const [name, pid] of Object.entries(components)) {
    const use = pid === undefined ? undefined : processUse(pid);
    if (pid !== undefined && use) before.set(name, { pid, use });
  }
  return {
    finish(events) {
      const figures: Record<string, number> = {};
      if (events <= 0) return figures;
      let total = 0;
      for (const [name, { pid, use }] of before) {
        const now = processUse(pid);
        if (!now) continue;
        const cpuUs = ((now.cpuMs - use.cpuMs) * 1000) / events;
        figures[`${id}.cpu.${name}`] = cpuUs;
        figures[`${id}.bytes.${name}`] = (now.ioBytes - use.ioBytes) / events;
        total += cpuUs;
      }
      figures[`${id}.cpu.total`] = total;
      return figures;
    },
  };
}
