import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));

/** True while a process with this PID runs: a killed one left unreaped (a zombie, "Z") does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("startProcess", () => {
  it("kills the children still running when the process that started them exits without stopping them", () => {
    // A test process whose cleanup never ran: it starts a long sleep and exits at once.
    const script = `
      import { startProcess } from ${JSON.stringify(join(here, "process.ts"))};
      const child = startProcess("sleeper", "sleep", ["300"]);
      console.log(child.pid);
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    const pid = Number(run.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const gone = !alive(pid);
    if (!gone) process.kill(pid, "SIGKILL");
    expect(gone).toBe(true);
  });
});
