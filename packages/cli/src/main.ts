#!/usr/bin/env -S npx tsx
/** `heliograph …` (or `pnpm heliograph …` from the repository): see `heliograph --help`. */
import { runCli } from "./cli.js";

// Ctrl-C ends `tail` (or a publish between retries) as a normal stop: exit 0, nothing half-printed.
const stop = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signal: stop.signal,
  stderrIsTTY: process.stderr.isTTY === true,
});
