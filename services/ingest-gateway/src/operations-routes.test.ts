/**
 * The admin API's operations views (streams, partitions, sequencers), its live tail and the web
 * console's files, against a real sequencer process. Before the sequencer starts, two opens of one
 * idea are stored: that race halts `ideas-ops` once they are numbered.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ErrorBody,
  type ErrorCode,
  type IdeaPublishRequest,
  PartitionsOverview,
  SequencerInstance,
  StreamSummary,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_OPENED, DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { waitFor } from "@heliograph/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

let gw: TestGateway;
let adminUrl: string;
const consoleDir = mkdtempSync(join(tmpdir(), "hg-console-"));
writeFileSync(join(consoleDir, "index.html"), "<!doctype html><title>Heliograph console</title>");

const admin = (method: "GET" | "POST", path: string, token: string | null = gw.adminToken) =>
  gw.admin.inject({
    method,
    url: `/admin/v1${path}`,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });

function expectError(res: LightMyRequestResponse, status: number, code: ErrorCode) {
  expect(res.statusCode, res.body).toBe(status);
  expect(ErrorBody.parse(res.json()).error.code).toBe(code);
}

const openIdea = (overrides: Partial<IdeaPublishRequest>) => {
  const { published_at: _, ...data } = structuredClone(DOCUMENT_IDEA_OPENED.data);
  return gw.app.inject({
    method: "POST",
    url: "/api/v1/ideas/ops/open",
    headers: { "content-type": "application/json", ...gw.headers() },
    payload: JSON.stringify({ ...data, ...overrides }),
  });
};
const signal = (ticker: string) =>
  gw.app.inject({
    method: "POST",
    url: "/api/v1/create_trading_signal",
    headers: { "content-type": "application/json", ...gw.headers(gw.a, { "x-heliograph-wait": "10" }) },
    payload: JSON.stringify({ ...DOCUMENT_TRADING_SIGNAL_BODY, ticker_symbol: ticker }),
  });

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** A text/event-stream read frame by frame; `until` reads on until the frames so far satisfy it. */
function sseReader(res: Response) {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const frames: Frame[] = [];
  let buffer = "";
  return {
    frames,
    async until(done: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
      const deadline = Date.now() + timeoutMs;
      while (!done(frames)) {
        const left = deadline - Date.now();
        const next = await Promise.race([
          reader.read(),
          new Promise<"late">((resolve) => setTimeout(() => resolve("late"), Math.max(0, left)).unref()),
        ]);
        if (next === "late") throw new Error(`no matching frames within ${timeoutMs} ms: ${JSON.stringify(frames)}`);
        if (next.done) throw new Error(`the stream ended: ${JSON.stringify(frames)}`);
        buffer += decoder.decode(next.value, { stream: true });
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const frame: Record<string, string> = {};
          for (const line of buffer.slice(0, end).split("\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) frame[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
          }
          if (frame.data !== undefined || frame.event !== undefined) frames.push(frame);
          buffer = buffer.slice(end + 2);
        }
      }
      return frames;
    },
  };
}

beforeAll(async () => {
  gw = await startTestGateway({ env: { CONSOLE_DIR: consoleDir, ADMIN_TAIL_LIMIT: "2" } });
  await gw.controlPlane.createIdeaChannel({ id: "ops", title: "Halts", publisher_id: gw.a.id });
  expect((await openIdea({ id: "raced" })).statusCode).toBe(202);
  expect((await openIdea({ id: "raced", timestamp: "2018-06-04T14:34:44.000Z" })).statusCode).toBe(202);
  await gw.startSequencer();
  await gw.admin.listen({ port: 0, host: "127.0.0.1" });
  const address = gw.admin.server.address() as { port: number };
  adminUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  // fetch (undici) keeps sockets to the listener on which it sent nothing yet after aborted
  // streams; the server would wait for them to time out before it closes.
  gw?.admin.server.closeAllConnections();
  await gw?.stop();
});

describe("GET /admin/v1/streams", () => {
  it("lists the streams of resources, algorithms and channels with head, status, held and hot window", async () => {
    const sent = await signal("FIRST");
    expect(sent.statusCode, sent.body).toBe(201);
    const halted = await waitFor(
      async () => {
        const res = await admin("GET", "/streams");
        expect(res.statusCode, res.body).toBe(200);
        const list = z.array(StreamSummary).parse(res.json());
        return list.find((s) => s.stream_id === "ideas-ops" && s.status === "halted") ? list : undefined;
      },
      { what: "ideas-ops halted in the list" },
    );
    const byId = new Map(halted.map((s) => [s.stream_id, s]));
    expect([...byId.keys()]).toEqual(
      expect.arrayContaining(["resource-1", "resource-2", "resource-3", "algorithm-1", "algorithm-2", "ideas-a-ideas"]),
    );
    expect(byId.get("algorithm-1")).toMatchObject({
      kind: "algorithm",
      publisher_id: gw.a.id,
      title: "A's algorithm",
      head: 0,
      status: "live",
      held: 0,
      earliest_hot: 0,
      parked: 0,
    });
    expect(byId.get("resource-2")).toMatchObject({
      kind: "resource",
      publisher_id: gw.b.id,
      head: -1,
      earliest_hot: -1,
    });
    expect(byId.get("ideas-ops")).toMatchObject({ kind: "ideas", head: 0, status: "halted", held: 1 });
  });

  it("is behind the admin token", async () => {
    expectError(await admin("GET", "/streams", null), 401, "AUTH_MISSING");
    expectError(await admin("GET", "/partitions", `${gw.adminToken}x`), 401, "AUTH_INVALID");
    expectError(await admin("GET", "/sequencers", null), 401, "AUTH_MISSING");
  });
});

describe("GET /admin/v1/partitions and /admin/v1/sequencers", () => {
  it("name the one sequencer as the holder of every partition, with lag and retention", async () => {
    const overview = await waitFor(
      async () => {
        const res = await admin("GET", "/partitions");
        expect(res.statusCode, res.body).toBe(200);
        const parsed = PartitionsOverview.parse(res.json());
        return parsed.partitions.every((p) => p.owner !== undefined && p.lag === 0) ? parsed : undefined;
      },
      { what: "every partition held, nothing pending" },
    );
    expect(overview.partitions.map((p) => p.partition)).toEqual(
      Array.from({ length: gw.config.PARTITIONS }, (_, i) => i),
    );
    for (const p of overview.partitions) {
      expect(p.epoch).toBeGreaterThan(0);
      expect(p.lease_expires_in_ms).toBeGreaterThan(0);
    }
    expect(overview.events).toMatchObject({ stream: "EVENTS", max_age_seconds: 0 });
    expect(overview.events.messages).toBeGreaterThanOrEqual(1);

    const res = await admin("GET", "/sequencers");
    expect(res.statusCode, res.body).toBe(200);
    const instances = z.array(SequencerInstance).parse(res.json());
    expect(instances).toHaveLength(1);
    const [only] = instances as [SequencerInstance];
    expect(new Set(overview.partitions.map((p) => p.owner))).toEqual(new Set([only.id]));
    expect(only.partitions).toEqual(overview.partitions.map((p) => p.partition));
  });
});

describe("GET /admin/v1/streams/:stream_id/tail", () => {
  const tail = (streamId: string, query = "", token: string | null = gw.adminToken, signal?: AbortSignal) =>
    fetch(`${adminUrl}/admin/v1/streams/${streamId}/tail${query}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      ...(signal ? { signal } : {}),
    });

  it("sends the last events, then each new one as it is numbered", async () => {
    const before = await signal("BEFORE");
    expect(before.statusCode, before.body).toBe(201);
    const n = (before.json() as { event_number: number }).event_number;
    const stop = new AbortController();
    const res = await tail("algorithm-1", "?last=1", gw.adminToken, stop.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const sse = sseReader(res);
    expect((await sse.until((f) => f.length >= 1)).map((f) => f.id)).toEqual([String(n)]);
    const after = await signal("AFTER");
    expect(after.statusCode, after.body).toBe(201);
    const frames = await sse.until((f) => f.length >= 2);
    expect(frames.map((f) => [f.id, f.event])).toEqual([
      [String(n), "TradingSignalCreated"],
      [String(n + 1), "TradingSignalCreated"],
    ]);
    expect(JSON.parse(frames[1]?.data ?? "")).toMatchObject({ event_number: n + 1, data: { ticker_symbol: "AFTER" } });
    stop.abort();
  });

  it("opens with the halt of a halted stream", async () => {
    const stop = new AbortController();
    const res = await tail("ideas-ops", "", gw.adminToken, stop.signal);
    expect(res.status).toBe(200);
    const frames = await sseReader(res).until((f) => f.some((x) => x.event === "halted"));
    expect(frames.map((f) => f.event)).toEqual(["IdeaOpened", "halted"]);
    expect(JSON.parse(frames[1]?.data ?? "")).toEqual({ head: 0 });
    stop.abort();
  });

  it("refuses without the token, a bad stream id or ?last, and beyond ADMIN_TAIL_LIMIT", async () => {
    const refusal = async (res: Response) => [res.status, ErrorBody.parse(await res.json()).error.code];
    expect(await refusal(await tail("algorithm-1", "", null))).toEqual([401, "AUTH_MISSING"]);
    expect(await refusal(await tail("Bad!", ""))).toEqual([400, "STREAM_ID_INVALID"]);
    expect(await refusal(await tail("algorithm-1", "?last=1000"))).toEqual([400, "VALIDATION_FAILED"]);
    // Tails the tests before closed free their slots once the gateway sees them go.
    const stop = new AbortController();
    await waitFor(
      async () => {
        const attempt = new AbortController();
        const open = [
          await tail("algorithm-1", "", gw.adminToken, attempt.signal),
          await tail("algorithm-2", "", gw.adminToken, attempt.signal),
        ];
        if (open.every((r) => r.status === 200)) {
          stop.signal.addEventListener("abort", () => attempt.abort());
          return true;
        }
        attempt.abort();
        await Promise.all(open.map((r) => r.body?.cancel().catch(() => {})));
        return undefined;
      },
      { what: "two tails open at once" },
    );
    const third = await tail("algorithm-1", "?last=0");
    expect(third.status).toBe(503);
    const refused = ErrorBody.parse(await third.json()).error;
    expect(refused).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: expect.stringMatching(/too many live tails/i),
    });
    expect(third.headers.get("retry-after")).toBe("1");
    stop.abort();
    // A closed tail frees its slot.
    await waitFor(
      async () => {
        const res = await tail("algorithm-1", "?last=0", gw.adminToken, AbortSignal.timeout(5_000));
        const ok = res.status === 200;
        await res.body?.cancel();
        return ok ? true : undefined;
      },
      { what: "a slot freed by the closed tails" },
    );
  });
});

describe("the web console's files", () => {
  it("are served at /console/ on the admin listener, without a token, with a content security policy", async () => {
    const res = await gw.admin.inject({ method: "GET", url: "/console/" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Heliograph console");
    expect(res.headers["content-security-policy"]).toContain("default-src 'none'");
    const bare = await gw.admin.inject({ method: "GET", url: "/console" });
    expect(bare.statusCode).toBe(301);
    expect(bare.headers.location).toBe("/console/");
  });

  it("are never served on the public listener", async () => {
    for (const url of ["/console/", "/console/index.html", "/console"])
      expectError(await gw.app.inject({ method: "GET", url }), 404, "ROUTE_NOT_FOUND");
  });
});
