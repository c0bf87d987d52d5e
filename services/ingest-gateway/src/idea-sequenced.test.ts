/**
 * The idea calls, waits and halts with a real sequencer process numbering what the gateway stores.
 * Before the sequencer starts, two opens of one idea are stored (nothing is numbered yet, so the
 * pre-check passes both): that race is what halts `ideas-ops` once the sequencer numbers them.
 */
import {
  ErrorBody,
  type ErrorCode,
  type IdeaPublishRequest,
  INGEST_SUBJECT_PREFIX,
  type IngestMessage,
  ParkedPublish,
  PublishAccepted,
  PublishSequenced,
  PublishStatus,
  RESUME_SUBJECT,
  type ResumeNotice,
  StreamEvent,
  StreamHalt,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_CLOSED, DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "@heliograph/contracts/fixtures";
import { readEventsAfter, streamKeys } from "@heliograph/store";
import { keysOnEveryNode, waitFor } from "@heliograph/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

let gw: TestGateway;
/** Every IngestMessage the gateway published, seen on core NATS (INGEST is a work queue). */
const published: IngestMessage[] = [];
let racedFirst: PublishAccepted;
let racedSecond: PublishAccepted;

/** The document's event `data` as a publish body: everything but `published_at`. */
function bodyOf(event: { data: Record<string, unknown> }, overrides: Partial<IdeaPublishRequest> = {}) {
  const { published_at: _, ...data } = structuredClone(event.data);
  return { ...data, ...overrides } as IdeaPublishRequest;
}

function ideaCall(
  channel: string,
  action: "open" | "update" | "close",
  body: unknown,
  extra: Record<string, string> = {},
) {
  return gw.app.inject({
    method: "POST",
    url: `/api/v1/ideas/${channel}/${action}`,
    headers: { "content-type": "application/json", ...gw.headers(gw.a, extra) },
    payload: JSON.stringify(body),
  });
}
const waiting = { "x-heliograph-wait": "10" };

const admin = (method: "GET" | "POST", path: string, body?: unknown) =>
  gw.admin.inject({
    method,
    url: `/admin/v1${path}`,
    headers: {
      authorization: `Bearer ${gw.adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
const lookup = (ingestId: string) =>
  gw.app.inject({ method: "GET", url: `/api/v1/publishes/${ingestId}`, headers: gw.headers() });

function expectError(res: LightMyRequestResponse, status: number, code: ErrorCode): ErrorBody {
  expect(res.statusCode, res.body).toBe(status);
  const body = ErrorBody.parse(res.json());
  expect(body.error.code).toBe(code);
  return body;
}

async function expectSequenced(res: LightMyRequestResponse): Promise<PublishSequenced> {
  expect(res.statusCode, res.body).toBe(201);
  return PublishSequenced.parse(res.json());
}

beforeAll(async () => {
  // Not the default 24 h: the record of a skipped publish must live as long as configured.
  gw = await startTestGateway({ env: { APPLIED_TTL_SECONDS: "3600" } });
  const sub = gw.nc.subscribe(`${INGEST_SUBJECT_PREFIX}.>`, {
    callback: (_err, msg) => {
      published.push(msg.json<IngestMessage>());
    },
  });
  await gw.nc.flush();
  void sub;
  await gw.controlPlane.createIdeaChannel({ id: "docs", title: "The document's ideas", publisher_id: gw.a.id });
  await gw.controlPlane.createIdeaChannel({ id: "ops", title: "Halts", publisher_id: gw.a.id });

  const raced = bodyOf(DOCUMENT_IDEA_OPENED, { id: "raced" });
  const first = await ideaCall("ops", "open", raced);
  expect(first.statusCode, first.body).toBe(202);
  const second = await ideaCall("ops", "open", { ...raced, timestamp: "2018-06-04T14:34:44.000Z" });
  expect(second.statusCode, second.body).toBe(202);
  racedFirst = PublishAccepted.parse(first.json());
  racedSecond = PublishAccepted.parse(second.json());

  await gw.startSequencer();
}, 90_000);
afterAll(async () => {
  await gw?.stop();
});

describe("the trade-ideas document's three events, as one idea's open, update and close", () => {
  const id = "2d1885ed419f4b758dc5f75183dea485";
  const bodies = [
    ["open", "IdeaOpened", bodyOf(DOCUMENT_IDEA_OPENED, { id, timestamp: "2018-06-04T14:34:43.393Z" })],
    ["update", "IdeaUpdated", bodyOf(DOCUMENT_IDEA_UPDATED, { id, timestamp: "2018-06-04T14:34:50.000Z" })],
    ["close", "IdeaClosed", bodyOf(DOCUMENT_IDEA_CLOSED, { id, timestamp: "2018-06-04T14:35:11.225Z" })],
  ] as const;

  it("each waits to 201 with its event number; INGEST got exactly the document's data; the log serves it", async () => {
    for (const [index, [action, eventType, body]] of bodies.entries()) {
      const answer = await expectSequenced(await ideaCall("docs", action, body, waiting));
      expect(answer).toMatchObject({ status: "sequenced", stream_id: "ideas-docs", id, event_number: index });
      const message = published.find((m) => m.ingest_id === answer.ingest_id);
      expect(message).toMatchObject({ event_type: eventType, stream_id: "ideas-docs", publisher_id: gw.a.id });
      expect(message?.data).toEqual(body);
    }
    const events = (await readEventsAfter(gw.redis, "ideas-docs", -1, 10)).map((t) => StreamEvent.parse(JSON.parse(t)));
    expect(events.map((e) => [e.event_number, e.event_type])).toEqual([
      [0, "IdeaOpened"],
      [1, "IdeaUpdated"],
      [2, "IdeaClosed"],
    ]);
    for (const [index, event] of events.entries()) {
      const { published_at, ...data } = event.data;
      expect(Date.parse(published_at)).not.toBeNaN();
      expect(data).toEqual(bodies[index]?.[2]);
    }
  });

  it("after the close, anything is 409 IDEA_CLOSED, a second open included", async () => {
    const before = published.length;
    const later = "2018-06-05T00:00:00.000Z";
    expectError(await ideaCall("docs", "update", { ...bodies[1][2], timestamp: later }), 409, "IDEA_CLOSED");
    expectError(await ideaCall("docs", "close", { ...bodies[2][2], timestamp: later }), 409, "IDEA_CLOSED");
    expectError(await ideaCall("docs", "open", { ...bodies[0][2], timestamp: later }), 409, "IDEA_CLOSED");
    expect(published.length).toBe(before);
  });
});

describe("409 pre-checks against the numbered idea", () => {
  const open = bodyOf(DOCUMENT_IDEA_OPENED, { id: "prechecked", timestamp: "2018-06-04T14:34:43.393Z" });

  it("a second open is 409 IDEA_ALREADY_OPENED; an earlier update is 409 IDEA_TIMESTAMP_BACKWARDS", async () => {
    await expectSequenced(await ideaCall("docs", "open", open, waiting));
    const before = published.length;
    expectError(
      await ideaCall("docs", "open", { ...open, timestamp: "2018-06-04T15:00:00.000Z" }),
      409,
      "IDEA_ALREADY_OPENED",
    );
    const backwards = expectError(
      await ideaCall("docs", "update", bodyOf(DOCUMENT_IDEA_UPDATED, { id: "prechecked" })),
      409,
      "IDEA_TIMESTAMP_BACKWARDS",
    );
    expect(backwards.error.details[0]?.path).toBe("timestamp");
    expect(published.length).toBe(before);
    // The same timestamp is not earlier.
    await expectSequenced(
      await ideaCall(
        "docs",
        "update",
        bodyOf(DOCUMENT_IDEA_UPDATED, { id: "prechecked", timestamp: open.timestamp }),
        waiting,
      ),
    );
  });

  it("an Idempotency-Key retry of a numbered open is not refused by its own first attempt", async () => {
    const body = bodyOf(DOCUMENT_IDEA_OPENED, { id: "retried-open" });
    const key = { "idempotency-key": "retried-open-1", ...waiting };
    const first = await expectSequenced(await ideaCall("docs", "open", body, key));
    // The first answer's key record is lost (as after a crash between the PubAck and the record).
    const keys = await keysOnEveryNode(gw.redis, "hg:idem:*");
    await Promise.all(keys.map((k) => gw.redis.del(k)));
    const retry = await expectSequenced(await ideaCall("docs", "open", body, key));
    expect(retry).toEqual(first);
  });

  it("a replayed 202 is upgraded to 201 when the retry waits", async () => {
    const body = bodyOf(DOCUMENT_IDEA_OPENED, { id: "replayed-open" });
    const first = await ideaCall("docs", "open", body, { "idempotency-key": "replayed-open-1" });
    expect(first.statusCode).toBe(202);
    const retry = await ideaCall("docs", "open", body, { "idempotency-key": "replayed-open-1", ...waiting });
    const answer = await expectSequenced(retry);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(answer.ingest_id).toBe(PublishAccepted.parse(first.json()).ingest_id);
  });
});

describe("GET /api/v1/publishes/:ingest_id with a sequencer", () => {
  it("is sequenced with the event number", async () => {
    const res = await ideaCall("docs", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "looked-up" }));
    const answer = PublishAccepted.parse(res.json());
    const status = await waitFor(async () => {
      const s = PublishStatus.parse((await lookup(answer.ingest_id)).json());
      return s.status === "sequenced" ? s : undefined;
    });
    expect(status).toMatchObject({ ingest_id: answer.ingest_id, stream_id: "ideas-docs" });
    expect(status.event_number).toBeGreaterThanOrEqual(0);
  });
});

describe("a halt, seen and resolved by an operator", () => {
  let held: PublishAccepted;

  it("the raced second open halts ideas-ops; /halts and /streams/:id/halt show it", async () => {
    const halts = await waitFor(async () => {
      const list = StreamHalt.array().parse((await admin("GET", "/halts")).json());
      return list.length > 0 ? list : undefined;
    });
    expect(halts).toHaveLength(1);
    const halt = halts[0] as StreamHalt;
    expect(halt).toMatchObject({ stream_id: "ideas-ops", ingest_id: racedSecond.ingest_id, held: 1 });
    expect(halt.event).toMatchObject({ event_type: "IdeaOpened", data: { id: "raced" } });

    const one = await admin("GET", "/streams/ideas-ops/halt");
    expect(one.statusCode, one.body).toBe(200);
    expect(StreamHalt.parse(one.json())).toEqual(halt);

    expect(PublishStatus.parse((await lookup(racedFirst.ingest_id)).json())).toMatchObject({
      status: "sequenced",
      event_number: 0,
    });
    expect(PublishStatus.parse((await lookup(racedSecond.ingest_id)).json())).toMatchObject({ status: "held" });
  });

  it("a publish behind the halt is held: its wait runs out (202), the stream counts it", async () => {
    const res = await ideaCall("ops", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "behind" }), {
      "x-heliograph-wait": "0.2",
    });
    expect(res.statusCode, res.body).toBe(202);
    held = PublishAccepted.parse(res.json());
    const status = await waitFor(async () => {
      const s = PublishStatus.parse((await lookup(held.ingest_id)).json());
      return s.status === "held" ? s : undefined;
    });
    expect(status.reason).not.toBe("");
    const stream = await admin("GET", "/streams/ideas-ops");
    expect(stream.json()).toEqual({ stream_id: "ideas-ops", head: 0, status: "halted", held: 2 });
  });

  it("live and unknown streams have no halt: 409 STREAM_NOT_HALTED, 404 STREAM_NOT_FOUND", async () => {
    expectError(await admin("GET", "/streams/ideas-docs/halt"), 409, "STREAM_NOT_HALTED");
    expectError(await admin("GET", "/streams/ideas-nothing/halt"), 404, "STREAM_NOT_FOUND");
    expectError(await admin("POST", "/streams/ideas-docs/resolve", { action: "skip" }), 409, "STREAM_NOT_HALTED");
    expectError(await admin("POST", "/streams/ideas-nothing/resolve", { action: "skip" }), 404, "STREAM_NOT_FOUND");
    expectError(await admin("GET", "/streams/Bad%20Id/halt"), 400, "STREAM_ID_INVALID");
    expectError(await admin("POST", "/streams/ideas-ops/resolve", { action: "drop" }), 400, "VALIDATION_FAILED");
  });

  it("resolving another halt than the one named is 409 HALT_CHANGED and changes nothing", async () => {
    expectError(
      await admin("POST", "/streams/ideas-ops/resolve", { action: "skip", ingest_id: racedFirst.ingest_id }),
      409,
      "HALT_CHANGED",
    );
    expect(StreamHalt.parse((await admin("GET", "/streams/ideas-ops/halt")).json()).held).toBe(2);
  });

  it("skip parks the offending publish, announces RESUME_SUBJECT, and the held publish is numbered", async () => {
    const notices: ResumeNotice[] = [];
    const sub = gw.nc.subscribe(RESUME_SUBJECT, {
      callback: (_err, msg) => {
        notices.push(msg.json<ResumeNotice>());
      },
    });
    await gw.nc.flush();
    try {
      const res = await admin("POST", "/streams/ideas-ops/resolve", {
        action: "skip",
        ingest_id: racedSecond.ingest_id,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ stream_id: "ideas-ops", action: "skip", ingest_id: racedSecond.ingest_id });
      await waitFor(() => notices.length > 0, { what: "the resume notice" });
      expect(notices).toEqual([{ stream_id: "ideas-ops" }]);
    } finally {
      sub.unsubscribe();
    }

    const numbered = await waitFor(async () => {
      const s = PublishStatus.parse((await lookup(held.ingest_id)).json());
      return s.status === "sequenced" ? s : undefined;
    });
    expect(numbered.event_number).toBe(1);
    expect(PublishStatus.parse((await lookup(racedSecond.ingest_id)).json())).toMatchObject({ status: "parked" });
    const ttl = await gw.redis.ttl(streamKeys("ideas-ops").appliedPrefix + racedSecond.ingest_id);
    expect(ttl).toBeGreaterThan(3_000);
    expect(ttl).toBeLessThanOrEqual(3_600);

    const parked = ParkedPublish.array().parse((await admin("GET", "/streams/ideas-ops/parked")).json());
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({
      ingest_id: racedSecond.ingest_id,
      stream_id: "ideas-ops",
      event: { event_type: "IdeaOpened", data: { id: "raced" } },
    });
    expect((await admin("GET", "/halts")).json()).toEqual([]);
    expect((await admin("GET", "/streams/ideas-ops")).json()).toEqual({
      stream_id: "ideas-ops",
      head: 1,
      status: "live",
      held: 0,
    });
    expectError(await admin("POST", "/streams/ideas-ops/resolve", { action: "skip" }), 409, "STREAM_NOT_HALTED");
  });
});
