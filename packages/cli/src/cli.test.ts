/**
 * The CLI as an operator runs it (`tsx packages/cli/src/main.ts`, its own process) against a real
 * ingest gateway listening on a port, with a real sequencer that halted a stream: two opens of one
 * idea stored before the sequencer started (nothing was numbered, so both passed the pre-check).
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_TOKEN_FORMAT, PublishAccepted } from "@heliograph/contracts";
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

  it("publisher rotate prints the new secret once; revoke and delete act on the publisher; delete needs --yes", async () => {
    await gw.controlPlane.createPublisher({ id: "cli-pub", name: "CLI publisher" });
    const listed = await inProcess(["publishers"]);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+STATUS\s+API KEY\s+CREATED$/m);
    expect(listed.stdout).toMatch(/^cli-pub\s+CLI publisher\s+active\s+hgk_/m);

    const rotated = await heliograph(["publisher", "rotate", "cli-pub"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const secret = /^api_secret: (hgs_\S+)$/m.exec(rotated.stdout)?.[1];
    const key = /^api_key:\s+(hgk_\S+)$/m.exec(rotated.stdout)?.[1];
    expect(await gw.controlPlane.authenticatePublisher(key, secret)).toBe("cli-pub");

    const revoked = await inProcess(["publisher", "revoke", "cli-pub"]);
    expect(revoked.stdout).toMatch(/^status:\s+revoked$/m);
    await expect(gw.controlPlane.authenticatePublisher(key, secret)).rejects.toMatchObject({ code: "AUTH_INVALID" });

    const unconfirmed = await inProcess(["publisher", "delete", "cli-pub"]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("add --yes");
    expect(await gw.controlPlane.getPublisher("cli-pub")).toBeDefined();
    const deleted = await heliograph(["publisher", "delete", "cli-pub", "--yes"]);
    expect(deleted).toMatchObject({ code: 0, stdout: "Deleted publisher cli-pub.\n" });
    expect(await gw.controlPlane.getPublisher("cli-pub")).toBeUndefined();
    const again = await inProcess(["publisher", "show", "cli-pub"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^heliograph: PUBLISHER_NOT_FOUND: /);
  });

  it("subscriber rotate prints a new token (the old one is refused); revoke; delete --yes", async () => {
    const created = await gw.controlPlane.createSubscriber({
      id: "cli-sub",
      name: "CLI subscriber",
      streams: ["resource-1"],
    });
    const rotated = await inProcess(["subscriber", "rotate", "cli-sub", "--json"]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const { token } = JSON.parse(rotated.stdout) as { token: string };
    expect(await gw.controlPlane.authenticateSubscriber(`Bearer ${token}`)).toBe("cli-sub");
    await expect(gw.controlPlane.authenticateSubscriber(`Bearer ${created.token}`)).rejects.toMatchObject({
      code: "AUTH_INVALID",
    });
    expect((await inProcess(["subscribers"])).stdout).toMatch(
      /^cli-sub\s+CLI subscriber\s+active\s+\S+\s+resource-1$/m,
    );
    expect((await inProcess(["subscriber", "revoke", "cli-sub"])).stdout).toMatch(/^status:\s+revoked$/m);
    expect((await inProcess(["subscriber", "delete", "cli-sub", "--yes"])).code).toBe(0);
    expect(await gw.controlPlane.getSubscriber("cli-sub")).toBeUndefined();
  });

  it("resource, algorithm and channel delete --yes remove the record; without --yes nothing goes", async () => {
    await gw.controlPlane.createAlgorithm({ id: 61, publisher_id: gw.a.id, name: "CLI algorithm" });
    await gw.controlPlane.createIdeaChannel({ id: "cli-gone", publisher_id: gw.a.id, title: "CLI channel" });
    const unconfirmed = await inProcess(["algorithm", "delete", "61"]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("add --yes");
    expect(await gw.controlPlane.getAlgorithm(61)).toBeDefined();

    const deleted = await heliograph(["algorithm", "delete", "61", "--yes"]);
    expect(deleted).toMatchObject({
      code: 0,
      stdout: "Deleted algorithm 61: publishes to it are refused; its stream algorithm-61 stays readable.\n",
    });
    expect(await gw.controlPlane.getAlgorithm(61)).toBeUndefined();
    expect((await inProcess(["channel", "delete", "cli-gone", "--yes", "--json"])).stdout).toContain('"cli-gone"');
    expect(await gw.controlPlane.getIdeaChannel("cli-gone")).toBeUndefined();
    const missing = await inProcess(["resource", "delete", "4242", "--yes"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^heliograph: RESOURCE_NOT_FOUND: /);
  });

  it("webhook create prints the secret once; list, show, pause, resume, replay, attempts and delete act on it", async () => {
    await gw.controlPlane.createSubscriber({ id: "cli-wh-sub", name: "Webhook subscriber", streams: ["resource-1"] });
    // This gateway allows no private targets: a loopback URL is refused with its code.
    const refused = await inProcess(["webhook", "create", "cli-wh-sub", "resource-1", "http://127.0.0.1:9/hook"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^heliograph: WEBHOOK_TARGET_FORBIDDEN: .*\n {2}url: the host resolves to 127\.0\.0\.1/,
    );
    const created = await inProcess([
      "webhook",
      "create",
      "cli-wh-sub",
      "resource-1",
      "https://8.8.8.8/hook",
      "--from",
      "0",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^secret: {5}whsec_\S{44}$/m);
    const id = /^id:\s+(\S+)$/m.exec(created.stdout)?.[1] as string;
    expect((await inProcess(["webhooks"])).stdout).toMatch(
      new RegExp(`^${id}\\s+cli-wh-sub\\s+resource-1\\s+active\\s+https://8\\.8\\.8\\.8/hook$`, "m"),
    );
    const shown = await inProcess(["webhook", "show", id]);
    expect(shown.stdout).toMatch(/^position:\s+-1 /m);
    expect(shown.stdout).not.toContain("whsec_");
    expect((await inProcess(["webhook", "pause", id])).stdout).toMatch(/^status:\s+paused$/m);
    expect((await inProcess(["webhook", "resume", id])).stdout).toMatch(/^status:\s+active$/m);
    expect((await inProcess(["webhook", "replay", id, "--from", "5"])).stdout).toMatch(/^position:\s+4 /m);
    expect((await inProcess(["webhook", "attempts", id])).stdout).toBe("No delivery attempts yet.\n");
    const rotated = await inProcess(["webhook", "rotate", id]);
    expect(rotated.stdout).toMatch(/^secret: {5}whsec_\S{44}$/m);
    expect(rotated.stdout).not.toContain(/^secret: {5}(\S+)$/m.exec(created.stdout)?.[1] as string);
    expect((await inProcess(["webhook", "delete", id])).code).toBe(2);
    expect((await inProcess(["webhook", "delete", id, "--yes"])).code).toBe(0);
    const gone = await inProcess(["webhook", "show", id]);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringMatching(/^heliograph: WEBHOOK_NOT_FOUND/)]);
    expect((await inProcess(["webhook", "replay", id])).code).toBe(2);
  });

  it("admin-token prints a token the gateway accepts, without calling anything", async () => {
    const run = await inProcess(["admin-token"]);
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    // The gateway's ADMIN_TOKEN check is this format (services/ingest-gateway config.test.ts).
    expect(token).toMatch(ADMIN_TOKEN_FORMAT);
    expect((await inProcess(["admin-token"])).stdout.trim()).not.toBe(token);
  });

  it("says so when the gateway cannot be reached", async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const run = await heliograph(["halts"], { HELIOGRAPH_ADMIN_URL: nobody });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`heliograph: cannot reach the admin API at ${nobody}: ECONNREFUSED\n`);
  });
});
