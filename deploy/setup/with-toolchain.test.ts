import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The set-up that `npm start` and `npm test` run first, as its own process, in this repository.
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, "deploy/setup/with-toolchain.mjs");
const PINNED_PNPM = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).packageManager.replace(
  "pnpm@",
  "",
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function withToolchain(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { cwd: REPO_ROOT, env, timeout: 240_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const bareDir = mkdtempSync(join(tmpdir(), "hg-bare-path-"));
afterAll(() => rmSync(bareDir, { recursive: true, force: true }));

describe("with-toolchain", () => {
  it("names what to install and runs nothing when the servers are missing and it cannot apt-get them", async () => {
    // A PATH with node and nothing else: no nats-server, no redis-server, no apt-get, no docker.
    symlinkSync(process.execPath, join(bareDir, "node"));
    const { NATS_URL: _nats, REDIS_URL: _redis, ...env } = process.env;
    const run = await withToolchain(["--for=start", "--", "node", "-e", "console.log('ran')"], {
      ...env,
      PATH: bareDir,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("missing nats-server, redis-server");
    expect(run.stderr).toContain("apt-get install nats-server redis-server");
  });

  it("is silent once set up, runs the command on Node 24 (Node 22 beside it for the tests) and passes its exit code on", async () => {
    // The first run may still have something to do (vitest started without `npm test`).
    await withToolchain(["--for=test", "--", "true"]);
    const version = await withToolchain(["--for=test", "--", "node", "-p", "process.versions.node"]);
    expect(version).toMatchObject({ code: 0, stderr: "" });
    expect(Number(version.stdout.split(".")[0])).toBeGreaterThanOrEqual(24);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);

    const pnpm = await withToolchain(["--for=test", "--", "pnpm", "--version"]);
    expect(pnpm.stdout.trim()).toBe(PINNED_PNPM);

    if (`${process.platform}-${process.arch}` === "linux-x64") {
      // Run directly, not through one more set-up run: the link is what the first run left.
      const node22 = await run(join(REPO_ROOT, ".heliograph/toolchain/bin/node22"), ["-p", "process.versions.node"]);
      expect(node22.stdout).toMatch(/^22\.\d+\.\d+\n$/);
    }

    const failing = await withToolchain(["--for=test", "--", "node", "-e", "process.exit(3)"]);
    expect(failing).toMatchObject({ code: 3, stdout: "", stderr: "" });
  }, 300_000);
});
