import type { Command as Program } from "commander";
import { describe, expect, it } from "vitest";
import { commandTree } from "./args.js";
import { runCli } from "./cli.js";

// Issue 12: `--help` on every command. The list is walked from the program itself, so a command
// added later is covered without being named here.

/** Every command and subcommand, as the words that reach it (`["halt", "show"]`). */
function commandPaths(cmd: Program, path: string[] = []): string[][] {
  return cmd.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    return [here, ...commandPaths(sub, here)];
  });
}

const paths = commandPaths(commandTree());

/** `heliograph <argv>` in-process (main.ts's own call), with nothing configured: help needs nothing. */
async function run(argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    env: {},
    cwd: "/nonexistent",
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    fetch: () => Promise.reject(new Error("help must not call anything")),
  });
  return { code, stdout, stderr };
}

describe("--help on every command", () => {
  it("finds the commands and their subcommands", () => {
    const names = paths.map((p) => p.join(" "));
    expect(names).toEqual(expect.arrayContaining(["tail", "replay", "publish signal", "halt show", "webhook create"]));
    expect(paths.some((p) => p.length === 2)).toBe(true);
  });

  it.each(paths.map((p) => [p.join(" "), p] as const))("%s --help exits 0 and prints its usage", async (_, path) => {
    const help = await run([...path, "--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(new RegExp(`^Usage: heliograph ${path.join(" ")}( |$)`, "m"));
  });
});
