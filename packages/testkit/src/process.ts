import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { childPortSliceEnv } from "./free-port.js";

/** A child process the harness starts and stops by PID. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited(): Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  running(): boolean;
}

export function which(binary: string): string | undefined {
  const r = spawnSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" });
  const path = r.stdout.trim();
  return r.status === 0 && path ? path : undefined;
}

/** Children still running: killed when this process exits, whatever way it ends its work. */
const liveChildren = new Set<ChildProcess>();
let exitHookSet = false;

/**
 * A test whose cleanup failed (a hook that threw or timed out) would otherwise leave its
 * nats-server and redis-server running after the test process is gone, holding ports and memory
 * on the developer's machine. Only what is still running is killed, and only at exit.
 */
function killRunningAtExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  if (exitHookSet) return;
  exitHookSet = true;
  process.once("exit", () => {
    for (const c of liveChildren) c.kill("SIGKILL");
  });
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: boolean; ownProcessGroup?: boolean } = {},
): ManagedProcess {
  const child: ChildProcess = spawn(command, args, {
    env: childPortSliceEnv(options.env ?? process.env),
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    // Out of the terminal's process group, so Ctrl-C reaches only the parent, which stops the
    // children in order (services first, then Redis and NATS).
    detached: options.ownProcessGroup ?? false,
  });
  killRunningAtExit(child);
  let out = "";
  const collect = (chunk: Buffer) => {
    // Keep the tail only: long-running services log a lot.
    out = (out + chunk.toString("utf8")).slice(-2_000_000);
    if (options.echo) process.stderr.write(`[${name}] ${chunk}`);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exitValue: number | string | undefined;
  const exitPromise = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      exitValue = code ?? signal ?? -1;
      resolve(exitValue);
    });
    child.on("error", (err) => {
      out += `\nspawn error: ${err.message}`;
      exitValue = -1;
      resolve(-1);
    });
  });
  const running = () => exitValue === undefined;
  return {
    name,
    pid: child.pid,
    output: () => out,
    exited: () => exitPromise,
    running,
    async kill(signal = "SIGKILL") {
      if (running()) child.kill(signal);
      await exitPromise;
    },
    async stop(graceMs = 5_000) {
      if (!running()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
}
