import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs a service's main.ts to its exit; resolves with the exit code and what it printed. */
function runMain(service: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `services/${service}/src/main.ts`],
      // Nothing listens on these: a service that got past its configuration would hang, not exit.
      { cwd: ROOT, env: { ...process.env, NATS_URL: "nats://127.0.0.1:1", REDIS_URL: "redis://127.0.0.1:1", ...env } },
      (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout }),
    );
  });
}

describe("runService: every service handles a bad configuration the same way", () => {
  it.each([
    // A token of the generated shape, so PORT is the only bad variable.
    ["ingest-gateway", { ADMIN_TOKEN: `hga_${randomBytes(32).toString("base64url")}` }],
    ["stream-gateway", {}],
    ["sequencer", {}],
  ])("%s exits 1 with one fatal JSON log line naming the variable", { timeout: 120_000 }, async (service, env) => {
    const { code, stdout } = await runMain(service, { ...env, PORT: "not-a-port" });
    expect(code, stdout).toBe(1);
    const fatal = stdout
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: number; msg: string; name: string })
      .filter((line) => line.level === 60);
    expect(fatal, stdout).toHaveLength(1);
    expect(fatal[0]?.name).toBe(service);
    expect(fatal[0]?.msg).toMatch(/PORT: must be a whole number/);
  });
});
