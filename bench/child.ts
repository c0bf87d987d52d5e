import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(BENCH_DIR, "..");

type Envelope =
  | { type: "progress"; value: unknown }
  | { type: "result"; value: unknown }
  | { type: "error"; message: string };

/**
 * A load generator or bare server in its own process, so it never shares an event loop with the
 * code that measures it. It gets its input as the first IPC message, may report progress, may be
 * sent commands, and ends with one result.
 */
export class Child<I, O> {
  private readonly proc: ChildProcess;
  private readonly progress: unknown[] = [];
  private waiters: Array<() => void> = [];
  private readonly done: Promise<O>;
  private output = "";

  constructor(
    readonly script: string,
    input: I,
    options: { env?: NodeJS.ProcessEnv } = {},
  ) {
    this.proc = fork(join(BENCH_DIR, script), [], {
      cwd: REPO_ROOT,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-20_000);
    };
    this.proc.stdout?.on("data", collect);
    this.proc.stderr?.on("data", collect);
    this.done = new Promise<O>((resolve, reject) => {
      this.proc.on("message", (raw) => {
        const message = raw as Envelope;
        if (message.type === "progress") {
          this.progress.push(message.value);
          for (const wake of this.waiters.splice(0)) wake();
        } else if (message.type === "result") resolve(message.value as O);
        else reject(new Error(`${script}: ${message.message}`));
      });
      this.proc.on("exit", (code, signal) => {
        for (const wake of this.waiters.splice(0)) wake();
        reject(new Error(`${script} exited (${code ?? signal}) without a result\n${this.output}`));
      });
    });
    // A rejection nobody awaits yet must not crash the runner.
    this.done.catch(() => {});
    this.proc.send(input as object);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Every progress message so far, in order. */
  progressOf<T>(): T[] {
    return this.progress as T[];
  }

  /** Progress messages after the first `from`, for a caller that drains them as they come. */
  progressSince<T>(from: number): T[] {
    return this.progress.slice(from) as T[];
  }

  send(command: unknown): void {
    if (this.proc.connected) this.proc.send(command as object);
  }

  /** The first progress message matching `match`, waiting up to `timeoutMs`. */
  async next<T>(match: (value: unknown) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.progress.find(match);
      if (found !== undefined) return found as T;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        await this.done; // throws with the child's output
        throw new Error(`${this.script} ended before the expected progress`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.script}: timed out after ${timeoutMs} ms waiting for progress`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async result(timeoutMs: number): Promise<O> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`${this.script}: no result within ${timeoutMs} ms\n${this.output}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

/** Child side: runs `main` on the first IPC message and sends back its result. */
export function childMain<I, O>(
  main: (
    input: I,
    io: { progress(value: unknown): void; onCommand(handler: (command: unknown) => void): void },
  ) => Promise<O>,
): void {
  const handlers: Array<(command: unknown) => void> = [];
  let started = false;
  process.on("message", (message) => {
    if (started) {
      for (const handler of handlers) handler(message);
      return;
    }
    started = true;
    const io = {
      progress: (value: unknown) => process.send?.({ type: "progress", value }),
      onCommand: (handler: (command: unknown) => void) => handlers.push(handler),
    };
    main(message as I, io).then(
      (value) => process.send?.({ type: "result", value }, () => process.exit(0)),
      (err: Error) => process.send?.({ type: "error", message: err?.stack ?? String(err) }, () => process.exit(1)),
    );
  });
  // The runner going away ends the child: no orphaned load generators.
  process.on("disconnect", () => process.exit(0));
}
