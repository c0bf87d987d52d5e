#!/usr/bin/env -S npx tsx
/** `heliograph …` (or `pnpm heliograph …` from the repository): see `heliograph --help`. */
import { runCli } from "./cli.js";

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
