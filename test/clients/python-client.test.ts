import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { REPO_ROOT, type Stack, startStack, tempDataDir } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The Python client (clients/python) is tested by its own pytest suite against a real stack: this
// file starts the stack with the demo tenant, writes its dev.json, and runs pytest on it.
let stack: Stack;
let devJson: string;
beforeAll(async () => {
  stack = await startStack();
  const dev: DevConfig = await seedDemoTenant(stack);
  devJson = join(tempDataDir("hg-python-client-"), "dev.json");
  writeFileSync(devJson, JSON.stringify(dev));
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("the Python client", () => {
  it("passes its pytest suite against the running stack", async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        "python3",
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        {
          cwd: join(REPO_ROOT, "clients/python"),
          env: { ...process.env, HELIOGRAPH_DEV_JSON: devJson, PYTHONDONTWRITEBYTECODE: "1" },
          timeout: 150_000,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    expect(code, output).toBe(0);
    // Every test ran: none was skipped for want of a stack.
    expect(output, output).toMatch(/\b(\d+) passed\b/);
    expect(output).not.toMatch(/skipped/);
  }, 180_000);
});
