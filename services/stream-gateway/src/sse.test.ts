import { connect } from "node:net";
import {
  ErrorBody,
  EVENTS_STREAM,
  EventStreamQuery,
  eventsSubject,
  eventTypeOfText,
  LastEventIdHeaders,
  sseEventText,
} from "@heliograph/contracts";
import { streamKeys } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";
import { openSse, type SseReader } from "../test/sse-reader.js";

let fx: GatewayFixture;
const readers: SseReader[] = [];

beforeAll(async () => {
  fx = await startGatewayFixture();
});

afterAll(async () => {
  for (const r of readers) r.close();
  await fx?.close();
});

const eventsUrl = (sid: string, query = "", base = fx.url) => `${base}/api/v1/stream/${sid}/events${query}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function follow(url: string, headers: Record<string, string>): Promise<SseReader> {
  const reader = await openSse(url, headers);
  readers.push(reader);
  return reader;
}

const numbers = (r: SseReader) => r.events().map((e) => e.id);

describe("the event stream's wire format (contracts)", () => {
  it("an event's message is its number, its event_type and its text on one data line", () => {
    const text = fx.sequencer.eventText("fmt", 7, { note: "line\nbreak" });
    expect(eventTypeOfText(text)).toBe("IdeaOpened");
    expect(sseEventText(text)).toBe(`id: 7\nevent: IdeaOpened\ndata: ${text}\n\n`);
    expect(text).not.toContain("\n");
  });

  it("?after and Last-Event-ID accept integers >= -1 and refuse anything else", () => {
    expect(EventStreamQuery.parse({ after: "-1" })).toEqual({ after: -1 });
    expect(EventStreamQuery.parse({})).toEqual({ after: undefined });
    expect(EventStreamQuery.safeParse({ after: "-2" }).success).toBe(false);
    expect(LastEventIdHeaders.parse({ "last-event-id": "42" })["last-event-id"]).toBe(42);
    expect(LastEventIdHeaders.safeParse({ "last-event-id": "x" }).success).toBe(false);
  });
});

describe("GET /api/v1/stream/{stream_id}/events", () => {
  it("refuses a missing token (401), a stranger's stream (403) and a bad ?after (400) with the house error body", async () => {
    const sid = "sse-auth";
    const missing = await follow(eventsUrl(sid, "?after=-1"), {});
    expect(missing.status).toBe(401);
    expect(ErrorBody.parse(JSON.parse(missing.errorBody ?? "")).error.code).toBe("AUTH_MISSING");
    const other = await fx.tokenFor(["sse-other"]);
    const forbidden = await follow(eventsUrl(sid, "?after=-1"), bearer(other));
    expect(forbidden.status).toBe(403);
    expect(ErrorBody.parse(JSON.parse(forbidden.errorBody ?? "")).error.code).toBe("STREAM_FORBIDDEN");
    const token = await fx.tokenFor([sid]);
    const bad = await follow(eventsUrl(sid, "?after=abc"), bearer(token));
    expect(bad.status).toBe(400);
    expect(ErrorBody.parse(JSON.parse(bad.errorBody ?? "")).error.code).toBe("EVENT_NUMBER_INVALID");
  });

  it("sends the catch-up then live events in number order, each exactly as a long poll returns it", async () => {
    const sid = "sse-follow";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 5);
    const r = await follow(eventsUrl(sid, "?after=-1"), bearer(token));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(r.headers.get("x-heliograph-head")).toBe("4");
    await waitFor(() => r.events().length === 5, { what: "the catch-up" });
    for (let i = 0; i < 3; i++) await fx.sequencer.append(sid);
    await waitFor(() => r.events().length === 8, { what: "the live events" });
    expect(numbers(r)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(r.frames[0]).toEqual({ kind: "message", retry: "1000" });
    expect(new Set(r.events().map((e) => e.event))).toEqual(new Set(["IdeaOpened"]));
    const poll = await fetch(`${fx.url}/api/v1/stream/${sid}/-1/100`, { headers: bearer(token) });
    expect(
      `[${r
        .events()
        .map((e) => e.data)
        .join(",")}]`,
    ).toBe(await poll.text());
  });

  it("answers HEAD with the stream's headers and no stream", async () => {
    const sid = "sse-head";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 2);
    const open = fx.app.sse.size;
    const res = await fetch(eventsUrl(sid, "?after=-1"), { method: "HEAD", headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("x-heliograph-head")).toBe("1");
    expect(await res.text()).toBe("");
    await waitFor(() => fx.app.sse.size === open, { what: "no stream left open" });
  });

  it("resumes after Last-Event-ID, which wins over ?after", async () => {
    const sid = "sse-resume";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 6);
    const r = await follow(eventsUrl(sid, "?after=-1"), { ...bearer(token), "last-event-id": "3" });
    await waitFor(() => r.events().length === 2, { what: "events 4 and 5" });
    await fx.sequencer.append(sid);
    await waitFor(() => r.events().length === 3, { what: "event 6" });
    expect(numbers(r)).toEqual([4, 5, 6]);
  });

  it("without ?after or Last-Event-ID starts at the current head: only new events", async () => {
    const sid = "sse-from-head";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 3);
    const r = await follow(eventsUrl(sid), bearer(token));
    expect(r.status).toBe(200);
    await waitFor(() => fx.app.hub.stats().waiters >= 1, { what: "the stream waiting on the hub" });
    await fx.sequencer.append(sid);
    await waitFor(() => r.events().length === 1, { what: "the new event" });
    expect(numbers(r)).toEqual([3]);
  });

  it("answers 410 POSITION_EVICTED with X-Heliograph-Earliest before the stream starts", async () => {
    const sid = "sse-evicted";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 10);
    // Redis keeps events 7..9 and EVENTS the last 5 (5..9): event 0 is held by neither.
    await fx.redis.xtrim(streamKeys(sid).log, "MINID", "8-0");
    const jsm = await jetstreamManager(fx.nc);
    await jsm.streams.purge(EVENTS_STREAM, { filter: eventsSubject(sid), keep: 5 });
    const gone = await follow(eventsUrl(sid, "?after=-1"), bearer(token));
    expect(gone.status).toBe(410);
    expect(gone.headers.get("x-heliograph-earliest")).toBe("5");
    expect(ErrorBody.parse(JSON.parse(gone.errorBody ?? "")).error.code).toBe("POSITION_EVICTED");
    const resumed = await follow(eventsUrl(sid, "?after=4"), bearer(token));
    await waitFor(() => resumed.events().length === 5, { what: "events 5..9 from EVENTS and Redis" });
    expect(numbers(resumed)).toEqual([5, 6, 7, 8, 9]);
  });

  it("sends a heartbeat comment every SSE_HEARTBEAT_MS while nothing happens", async () => {
    const sid = "sse-heartbeat";
    const token = await fx.tokenFor([sid]);
    const { url } = await fx.extraApp(100, { SSE_HEARTBEAT_MS: 200 });
    const r = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    const heartbeats = () => r.frames.filter((f) => f.kind === "comment" && f.text === "heartbeat").length;
    await waitFor(() => heartbeats() >= 2, { what: "two heartbeats", timeoutMs: 5_000 });
    expect(r.events()).toEqual([]);
  });

  it("says once that the stream is halted, when the client has every event", async () => {
    const sid = "sse-halted";
    const token = await fx.tokenFor([sid]);
    await fx.sequencer.appendRecorded(sid, 2);
    const { url } = await fx.extraApp(100, { SSE_HEARTBEAT_MS: 300 });
    const r = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    await waitFor(() => r.events().length === 2);
    await fx.sequencer.halt(sid);
    // A halt publishes no event, so it wakes no waiter: the look after the next heartbeat sees it.
    const halted = () => r.frames.filter((f) => f.kind === "message" && f.event === "halted");
    await waitFor(() => halted().length === 1, { what: "the halted message" });
    expect(halted()[0]).toEqual({ kind: "message", event: "halted", data: '{"head":1}' });
  });

  it("caps open streams: over MAX_SSE_CONNECTIONS 503 with Retry-After; a closed one frees its slot", async () => {
    const sid = "sse-cap";
    const token = await fx.tokenFor([sid]);
    const { app, url } = await fx.extraApp(100, { MAX_SSE_CONNECTIONS: 1 });
    const first = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(first.status).toBe(200);
    const second = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("1");
    first.close();
    await waitFor(() => app.sse.size === 0, { what: "the slot freed" });
    const third = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(third.status).toBe(200);
  });

  it("caps one subscriber's open streams at its share: 429 with Retry-After, others still served", async () => {
    const sid = "sse-share";
    const [token, other] = [await fx.tokenFor([sid]), await fx.tokenFor([sid])];
    const { url } = await fx.extraApp(100, { MAX_SSE_CONNECTIONS: 10, MAX_SSE_CONNECTIONS_PER_SUBSCRIBER: 1 });
    expect((await follow(eventsUrl(sid, "?after=-1", url), bearer(token))).status).toBe(200);
    const over = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("1");
    expect(ErrorBody.parse(JSON.parse(over.errorBody ?? "")).error.code).toBe("RATE_LIMITED");
    expect((await follow(eventsUrl(sid, "?after=-1", url), bearer(other))).status).toBe(200);
  });

  it("ends a revoked subscriber's open stream", async () => {
    const sid = "sse-revoked";
    const { id, token } = await fx.controlPlane.createSubscriber({ name: "to revoke", streams: [sid] });
    // With the control-plane cache on, its KV watch tells the app a subscriber changed.
    const { url } = await fx.extraApp(100, { CONTROL_PLANE_CACHE_MS: 60_000 });
    const r = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(r.status).toBe(200);
    await fx.sequencer.append(sid);
    await waitFor(() => r.events().length === 1);
    await fx.controlPlane.revokeSubscriber(id);
    await waitFor(() => r.isEnded(), { what: "the stream ended" });
    const again = await follow(eventsUrl(sid, "?after=0", url), bearer(token));
    expect(again.status).toBe(401);
  });

  it("drops a client that leaves a batch unread for SSE_DRAIN_TIMEOUT_MS, holding no backlog for it", async () => {
    const sid = "sse-slow";
    const token = await fx.tokenFor([sid]);
    // 400 events of 64 KiB (26 MB): more than the socket buffers on both sides can take.
    await fx.sequencer.appendHistory(sid, 400, { pad: "x".repeat(64 * 1024) });
    const { app, url } = await fx.extraApp(100, { SSE_DRAIN_TIMEOUT_MS: 500 });
    const { port } = new URL(url);
    const socket = connect(Number(port), "127.0.0.1");
    let received = 0;
    const closed = new Promise<void>((resolve) => {
      socket.on("error", () => {});
      socket.on("close", () => resolve());
    });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `GET /api/v1/stream/${sid}/events?after=-1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`,
    );
    // Reads the head and a little, then stops reading: the server's writes back up.
    const onData = (chunk: Buffer) => {
      received += chunk.length;
    };
    socket.on("data", onData);
    socket.once("data", () => socket.pause());
    await waitFor(() => app.sse.size === 1, { what: "the stream open" });
    await waitFor(() => app.sse.size === 0, { what: "the stream dropped by the server" });
    // Reading again, the client finds the connection closed after far less than the backlog.
    socket.resume();
    await closed;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(26 * 1024 * 1024);
  });

  it("closing the app ends open streams promptly", async () => {
    const sid = "sse-shutdown";
    const token = await fx.tokenFor([sid]);
    const { app, url } = await fx.extraApp(100, { SSE_HEARTBEAT_MS: 60_000 });
    const r = await follow(eventsUrl(sid, "?after=-1", url), bearer(token));
    expect(r.status).toBe(200);
    await waitFor(() => app.hub.stats().waiters === 1, { what: "the stream waiting" });
    const t0 = performance.now();
    await Promise.all([app.close(), r.ended]);
    // Not at the heartbeat's minute: the close ended it.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(app.sse.size).toBe(0);
  });
});
