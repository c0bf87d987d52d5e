/**
 * The CLI as an operator runs it (`tsx packages/cli/src/main.ts`, its own process) against a real
 * ingest gateway listening on a port, with a real sequencer that halted a stream: two opens of one
 * idea stored before the sequencer started (nothing was numbered, so both passed the pre-check).
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PublishAccepted } from "@heliograph/contracts";
import { DOCUMENT_IDEA_OPENED } from "@heliograph/contracts/fixtures";
import { startTestGateway, type TestGateway } from "@heliograph/ingest-gateway/test-gateway";
import { freePort, REPO_ROOT, waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.js";

let gw: TestGateway;
let url: string;
let offending: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `heliograph <args>` as its own process, configured through the environment. */
function heliograph(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(REPO_ROOT, "node_modules/.bin/tsx"),
      [join(REPO_ROOT, "packages/cli/src/main.ts"), ...args],
      {
        cwd: tmpdir(),
        env: { ...process.env, HELIOGRAPH_ADMIN_URL: url, HELIOGRAPH_ADMIN_TOKEN: gw.adminToken, ...env },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The same, in-process (faster; the process path is covered by the calls above). */
async function inProcess(args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    env: { HELIOGRAPH_ADMIN_URL: url, HELIOGRAPH_ADMIN_TOKEN: gw.adminToken },
    cwd: tmpdir(),
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  gw = await startTestGateway();
  url = await gw.admin.listen({ host: "127.0.0.1", port: 0 });
  const open = (timestamp: string) =>
    gw.app.inject({
      method: "POST",
      url: "/api/v1/ideas/a-ideas/open",
      headers: { ...gw.headers(), "content-type": "application/json" },
      payload: JSON.stringify({ ...DOCUMENT_IDEA_OPENED.data, published_at: undefined, id: "raced", timestamp }),
    });
  expect((await open("2018-06-04T14:34:43.393Z")).statusCode).toBe(202);
  const second = await open("2018-06-04T14:34:44.000Z");
  expect(second.statusCode, second.body).toBe(202);
  offending = PublishAccepted.parse(second.json()).ingest_id;
  await gw.startSequencer();
  await waitFor(
    async () =>
      (
        await gw.admin.inject({
          method: "GET",
          url: "/admin/v1/halts",
          headers: { authorization: `Bearer ${gw.adminToken}` },
        })
      ).json().length === 1,
    { what: "the halt" },
  );
}, 90_000);
afterAll(async () => {
  await gw?.stop();
});

describe("heliograph against a real gateway", () => {
  it("halts prints the halted stream, its reason, offending ingest id and held count", async () => {
    const run = await heliograph(["halts"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const [header, row, ...more] = run.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^STREAM\s+SINCE\s+REASON\s+OFFENDING INGEST ID\s+HELD$/);
    expect(more).toEqual([]);
    expect(row).toMatch(new RegExp(`^ideas-a-ideas\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+.+\\s${offending}\\s+1$`));

    const json = await inProcess(["halts", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject([{ stream_id: "ideas-a-ideas", ingest_id: offending, held: 1 }]);
  });

  it("halt show prints the offending event", async () => {
    const run = await inProcess(["halt", "show", "ideas-a-ideas"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`offending:  ${offending}`);
    expect(run.stdout).toContain('"event_type": "IdeaOpened"');
    expect(run.stdout).toContain('"timestamp": "2018-06-04T14:34:44.000Z"');
  });

  it("errors print the API's code and message and exit 1", async () => {
    const changed = await heliograph(["halt", "skip", "ideas-a-ideas", "--ingest-id", "ing_not_it"]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/^heliograph: HALT_CHANGED: /);
    expect(changed.stdout).toBe("");

    const live = await inProcess(["halt", "show", "resource-1"]);
    expect(live).toMatchObject({ code: 1, stdout: "" });
    expect(live.stderr).toMatch(/^heliograph: STREAM_NOT_FOUND: /);

    const badToken = await heliograph(["halts"], { HELIOGRAPH_ADMIN_TOKEN: "hga_wrong_token_wrong" });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^heliograph: AUTH_INVALID: /);

    const usage = await inProcess(["halt", "explode", "x"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: heliograph");
  });

  it("halt retry --data refuses a file that is not a JSON object, before calling", async () => {
    const file = join(tmpdir(), `hg-cli-${process.pid}.json`);
    writeFileSync(file, "[1,2]");
    const run = await inProcess(["halt", "retry", "ideas-a-ideas", "--data", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("must hold a JSON object");
  });

  it("halt skip parks the offending publish and the stream goes on", async () => {
    const run = await heliograph(["halt", "skip", "ideas-a-ideas", "--ingest-id", offending]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Skipped ${offending} on ideas-a-ideas`);

    expect((await inProcess(["halts"])).stdout.trim()).toBe("No stream is halted.");
    const parked = await inProcess(["parked", "ideas-a-ideas"]);
    expect(parked.code).toBe(0);
    expect(parked.stdout).toContain(offending);
    expect(parked.stdout).toContain("IdeaOpened");
    const stream = await inProcess(["stream", "ideas-a-ideas"]);
    expect(stream.stdout).toMatch(/head:\s+0\n/);
    expect(stream.stdout).toMatch(/status:\s+live\n/);
  });

  it("says so when the gateway cannot be reached", async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const run = await heliograph(["halts"], { HELIOGRAPH_ADMIN_URL: nobody });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`heliograph: cannot reach the admin API at ${nobody}: ECONNREFUSED\n`);
  });
});
