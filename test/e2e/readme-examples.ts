import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const README = join(import.meta.dirname, "../../README.md");

/**
 * The code blocks fenced as `lang` in the README's section under `heading` (its whole line, `##`
 * included), up to the next heading of the same level or higher. Throws when the section is gone,
 * so a renamed heading fails the test that runs its examples instead of skipping them.
 */
export function readmeBlocks(heading: string, lang: string): string[] {
  const lines = readFileSync(README, "utf8").split("\n");
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const level = heading.indexOf(" ");
  // A `#` line inside a code block is a shell comment, not a heading.
  let fenced = false;
  const end = lines.findIndex((line, i) => {
    if (line.startsWith("```")) fenced = !fenced;
    return i > start && !fenced && /^#+ /.test(line) && line.indexOf(" ") <= level;
  });
  const section = lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
  return [...section.matchAll(new RegExp(`^\`\`\`${lang}\\n(.*?)^\`\`\``, "gms"))].map((m) => m[1] as string);
}

/** A command left running (a README example that follows for ever): its output so far, and its end. */
export interface Running {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<number | null>;
}

export function startRunning(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Running {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop: () => {
      child.kill();
      return exited;
    },
  };
}
