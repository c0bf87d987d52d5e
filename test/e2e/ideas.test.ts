import { randomUUID } from "node:crypto";
import { type AdminMethod, adminRequest } from "@heliograph/admin-client";
import {
  ErrorBody,
  foldIdeas,
  type IdeaEvent,
  type IdeaEventType,
  type IdeaProjection,
  type IdeaPublishRequest,
  type IngestMessage,
  ideasStreamId,
  ingestSubject,
  type ParkedPublish,
  PublishAnswer,
  PublishSequenced,
  type PublishStatus,
  partitionOf,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
  type StreamHalt,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_CLOSED, DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "@heliograph/contracts/fixtures";
import { REPO_ROOT, type Stack, startStack, waitFor, waitForHeldLongPoll } from "@heliograph/testkit";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentCurl, run } from "./document-clients.js";

// Trade ideas end to end: publishes through the ingest gateway, numbering and integrity in the
// sequencer, reads and idea state through the stream gateway, halts resolved by an operator.

let stack: Stack;
let nc: NatsConnection;
let publisher: { id: string; api_key: string; api_secret: string };
let token: string;

const CHANNELS = {
  lifecycle: "lifecycle",
  precheck: "precheck",
  waited: "waited",
  dupOpen: "dup-open",
  afterClose: "after-close",
  backwards: "backwards",
  notOpen: "not-open",
  flowing: "flowing",
} as const;
type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];
const sid = (channel: Channel) => ideasStreamId(channel);

type Action = "open" | "update" | "close";
const EVENT_TYPE: Record<Action, IdeaEventType> = { open: "IdeaOpened", update: "IdeaUpdated", close: "IdeaClosed" };
type DocumentExample = typeof DOCUMENT_IDEA_OPENED | typeof DOCUMENT_IDEA_UPDATED | typeof DOCUMENT_IDEA_CLOSED;
const EXAMPLE: Record<Action, DocumentExample> = {
  open: DOCUMENT_IDEA_OPENED,
  update: DOCUMENT_IDEA_UPDATED,
  close: DOCUMENT_IDEA_CLOSED,
};

/** The document's example `data` for an action, without published_at, for another idea id and time. */
function ideaBody(action: Action, id: string, timestamp: string, comment?: string): IdeaPublishRequest {
  const { published_at: _, ...data } = structuredClone(EXAMPLE[action].data) as unknown as IdeaPublishRequest & {
    published_at: string;
  };
  return { ...data, id, timestamp, ...(comment === undefined ? {} : { comment }) };
}

/** Every publish Heliograph accepted (2xx), per stream: what must end up read once or parked. */
interface Accepted {
  ingest_id: string;
  event_type: IdeaEventType;
  /** The data the event must carry (replaced when an operator retried it with a fix). */
  data: IdeaPublishRequest;
}
const accepted = new Map<string, Accepted[]>();
const acceptedOf = (streamId: string) => accepted.get(streamId) ?? [];
function recordAccepted(streamId: string, entry: Accepted) {
  accepted.set(streamId, [...acceptedOf(streamId), entry]);
}

/** A publish's HTTP answer as it came; read its body with the contracts' schemas below. */
interface PublishReply {
  status: number;
  body: unknown;
}

/**
 * The body of a 2xx, read with the contracts' schema. Parsing drops keys the schema does not know,
 * so the equality also fails when the gateway sends a field the contract does not declare.
 */
function publishAnswer(reply: PublishReply): PublishAnswer {
  expect([201, 202], JSON.stringify(reply.body)).toContain(reply.status);
  const answer = PublishAnswer.parse(reply.body);
  expect(answer).toEqual(reply.body);
  return answer;
}

/** The body of a 201: the publish is numbered. */
function sequencedAnswer(reply: PublishReply): PublishSequenced {
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  return PublishSequenced.parse(publishAnswer(reply));
}

/** The error of a refused publish. */
const refusal = (reply: PublishReply): ErrorBody["error"] => ErrorBody.parse(reply.body).error;

async function publish(
  channel: Channel,
  action: Action,
  body: IdeaPublishRequest,
  options: { waitSeconds?: number } = {},
): Promise<PublishReply> {
  const res = await fetch(`${stack.ingest.url}/api/v1/ideas/${channel}/${action}`, {
    method: "POST",
    headers: {
      "API-KEY": publisher.api_key,
      "API-SECRET": publisher.api_secret,
      "content-type": "application/json",
      ...(options.waitSeconds === undefined ? {} : { "X-Heliograph-Wait": String(options.waitSeconds) }),
    },
    body: JSON.stringify(body),
  });
  const reply: PublishReply = { status: res.status, body: await res.json() };
  if (res.status === 201 || res.status === 202)
    recordAccepted(sid(channel), {
      ingest_id: publishAnswer(reply).ingest_id,
      event_type: EVENT_TYPE[action],
      data: body,
    });
  return reply;
}

/** Publishes and waits until it is numbered (201); the next publish's pre-check then sees it. */
async function publishSequenced(channel: Channel, action: Action, body: IdeaPublishRequest): Promise<number> {
  return sequencedAnswer(await publish(channel, action, body, { waitSeconds: 10 })).event_number;
}

const admin = <T>(method: AdminMethod, path: string, body?: unknown) =>
  adminRequest<T>(stack.admin, method, path, body);

const subscriber = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.stream.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

/** The whole stream, with its head and status headers. */
async function readStream(streamId: string): Promise<{ events: IdeaEvent[]; head: number; status: string }> {
  const events: IdeaEvent[] = [];
  let head = -1;
  let status = "";
  for (;;) {
    const res = await subscriber(`/api/v1/stream/${streamId}/${events.length - 1}/1000`, { "x-long-poll": "0" });
    expect(res.status).toBe(200);
    const batch = (await res.json()) as IdeaEvent[];
    head = Number(res.headers.get(STREAM_HEAD_HEADER));
    status = res.headers.get(STREAM_STATUS_HEADER) ?? "";
    if (batch.length === 0) return { events, head, status };
    events.push(...batch);
  }
}

async function streamState(streamId: string): Promise<{ head: number; status: string }> {
  const res = await subscriber(`/api/v1/stream/${streamId}/`);
  expect(res.status).toBe(200);
  return { head: Number(res.headers.get(STREAM_HEAD_HEADER)), status: res.headers.get(STREAM_STATUS_HEADER) ?? "" };
}

async function halts(): Promise<StreamHalt[]> {
  const res = await admin<StreamHalt[] | { halts: StreamHalt[] }>("GET", "/halts");
  expect(res.status).toBe(200);
  return Array.isArray(res.body) ? res.body : res.body.halts;
}

async function publishStatus(ingestId: string): Promise<PublishStatus> {
  const res = await fetch(`${stack.ingest.url}/api/v1/publishes/${ingestId}`, {
    headers: { "API-KEY": publisher.api_key, "API-SECRET": publisher.api_secret },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as PublishStatus;
}

async function parkedOf(streamId: string): Promise<ParkedPublish[]> {
  const res = await admin<ParkedPublish[] | { parked: ParkedPublish[] }>("GET", `/streams/${streamId}/parked`);
  expect(res.status).toBe(200);
  return Array.isArray(res.body) ? res.body : res.body.parked;
}

/** The operator's CLI, run as an operator does: `pnpm heliograph …` in the repository. */
function heliographCli(...args: string[]) {
  return run("pnpm", ["--dir", REPO_ROOT, "--silent", "heliograph", ...args], {
    env: { HELIOGRAPH_ADMIN_URL: stack.admin.url, HELIOGRAPH_ADMIN_TOKEN: stack.adminToken },
  });
}

/** Fields of `data` the document's examples fix; id, timestamp and published_at are per event. */
function documentFields(data: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, timestamp: _timestamp, published_at: _publishedAt, ...rest } = data;
  return rest;
}

const at = (second: number) => new Date(Date.UTC(2018, 5, 4, 15, 0, second)).toISOString();

beforeAll(async () => {
  // A short lease, so the sequencer restarted below takes its partitions back at once.
  stack = await startStack({ env: { LEASE_TTL_MS: "2000" } });
  nc = await connect(stack.nats.connectOptions());
  const created = await admin<{ id: string; api_key: string; api_secret: string }>("POST", "/publishers", {
    id: "idea-desk",
    name: "Idea desk",
  });
  expect(created.status).toBe(201);
  publisher = created.body;
  for (const channel of Object.values(CHANNELS)) {
    const res = await admin("POST", "/channels", {
      id: channel,
      publisher_id: publisher.id,
      title: `Ideas: ${channel}`,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  const sub = await admin<{ token: string }>("POST", "/subscribers", {
    name: "Idea reader",
    streams: Object.values(CHANNELS).map(sid),
  });
  expect(sub.status).toBe(201);
  token = sub.body.token;
}, 60_000);

afterAll(async () => {
  await nc?.drain();
  await stack?.stop();
});

describe("the document's three examples as one idea's lifecycle", () => {
  const ONE = "2d1885ed419f4b758dc5f75183dea485";
  const times = ["2018-06-04T14:34:43.393Z", "2018-06-04T14:35:07.685Z", "2018-06-04T14:35:11.225Z"];
  const streamId = sid(CHANNELS.lifecycle);
  const ideaUrl = () => `${stack.stream.url}/api/v1/ideas/${CHANNELS.lifecycle}/${ONE}`;
  const openUrl = () => `${stack.stream.url}/api/v1/ideas/${CHANNELS.lifecycle}`;

  it("publishes open, update and close, and the document's curl reads them back as the document shows", async () => {
    await publishSequenced(CHANNELS.lifecycle, "open", ideaBody("open", ONE, times[0] as string));
    const openWhileOpen = (await documentCurl(openUrl(), token)) as IdeaProjection[];
    expect(openWhileOpen.map((p) => p.id)).toEqual([ONE]);
    await publishSequenced(CHANNELS.lifecycle, "update", ideaBody("update", ONE, times[1] as string));
    expect(await documentCurl(ideaUrl(), token)).toMatchObject({ id: ONE, state: "open", events: 2 });
    await publishSequenced(CHANNELS.lifecycle, "close", ideaBody("close", ONE, times[2] as string));

    const events = (await documentCurl(
      `${stack.stream.url}/api/v1/stream/${streamId}/-1/10`,
      token,
      10,
    )) as IdeaEvent[];
    const examples = [DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED, DOCUMENT_IDEA_CLOSED];
    expect(events.map((e) => e.event_number)).toEqual([0, 1, 2]);
    expect(events.map((e) => e.event_type)).toEqual(examples.map((e) => e.event_type));
    events.forEach((event, i) => {
      const example = examples[i] as DocumentExample;
      // Exactly the document's fields, no more, no fewer.
      expect(Object.keys(event).sort()).toEqual(Object.keys(example).sort());
      expect(Object.keys(event.data).sort()).toEqual(Object.keys(example.data).sort());
      expect(documentFields(event.data)).toEqual(documentFields(example.data));
      expect(event.data.id).toBe(ONE);
      expect(event.data.timestamp).toBe(times[i]);
      expect(new Date(event.data.published_at).toISOString()).toBe(event.data.published_at);
    });

    // The idea's state over the gateway is the contracts fold of the stream; it left the open list.
    const folded = foldIdeas(events);
    expect(await documentCurl(ideaUrl(), token)).toEqual(folded.get(ONE));
    expect(folded.get(ONE)).toMatchObject({ state: "closed", event_number: 2, events: 3 });
    expect(await documentCurl(openUrl(), token)).toEqual([]);
  });
});

describe("X-Heliograph-Wait", () => {
  it("answers 201 with the event_number the stream shows, and the publish status agrees", async () => {
    const bodies = [
      ideaBody("open", "waited-a", at(1), "waited 0"),
      ideaBody("open", "waited-b", at(2), "waited 1"),
      ideaBody("update", "waited-a", at(3), "waited 2"),
    ];
    const answers: PublishSequenced[] = [];
    for (const [i, body] of bodies.entries())
      answers.push(
        sequencedAnswer(await publish(CHANNELS.waited, i < 2 ? "open" : "update", body, { waitSeconds: 5 })),
      );
    const { events } = await readStream(sid(CHANNELS.waited));
    for (const [i, answer] of answers.entries()) {
      expect(answer).toMatchObject({ status: "sequenced", stream_id: sid(CHANNELS.waited) });
      const n = answer.event_number;
      expect(events[n]?.event_number).toBe(n);
      expect(events[n]?.data).toMatchObject({
        id: bodies[i]?.id,
        timestamp: bodies[i]?.timestamp,
        comment: `waited ${i}`,
      });
      expect(await publishStatus(answer.ingest_id)).toMatchObject({ status: "sequenced", event_number: n });
    }
    expect(answers.map((a) => a.event_number)).toEqual([0, 1, 2]);
  });
});

describe("409 pre-checks, as a publisher sees them", () => {
  it("refuses what breaks an idea's rules, and nothing reaches the stream", async () => {
    const ch = CHANNELS.precheck;
    await publishSequenced(ch, "open", ideaBody("open", "pc-a", at(10)));
    await publishSequenced(ch, "close", ideaBody("close", "pc-a", at(11)));
    await publishSequenced(ch, "open", ideaBody("open", "pc-c", at(20)));
    const before = await readStream(sid(ch));
    expect(before.head).toBe(2);

    const refusals: [Action, IdeaPublishRequest, string][] = [
      ["update", ideaBody("update", "pc-a", at(12)), "IDEA_CLOSED"],
      ["close", ideaBody("close", "pc-a", at(12)), "IDEA_CLOSED"],
      // Anything after a close, a second open included: the idea's story is over.
      ["open", ideaBody("open", "pc-a", at(12)), "IDEA_CLOSED"],
      ["open", ideaBody("open", "pc-c", at(21)), "IDEA_ALREADY_OPENED"],
      ["update", ideaBody("update", "pc-never", at(12)), "IDEA_NOT_OPEN"],
      ["close", ideaBody("close", "pc-never", at(12)), "IDEA_NOT_OPEN"],
      ["update", ideaBody("update", "pc-c", at(19)), "IDEA_TIMESTAMP_BACKWARDS"],
      ["close", ideaBody("close", "pc-c", at(5)), "IDEA_TIMESTAMP_BACKWARDS"],
    ];
    for (const [action, body, code] of refusals) {
      const answer = await publish(ch, action, body, { waitSeconds: 2 });
      expect(answer.status, `${action} ${body.id}: ${JSON.stringify(answer.body)}`).toBe(409);
      expect(refusal(answer).code).toBe(code);
      expect(refusal(answer).message.length).toBeGreaterThan(0);
    }

    // The next good publish gets the very next number: nothing refused was numbered or held.
    const next = await publishSequenced(ch, "update", ideaBody("update", "pc-c", at(20)));
    expect(next).toBe(3);
    const after = await readStream(sid(ch));
    expect(after.status).toBe("live");
    expect(after.events.map((e) => [e.event_type, e.data.id])).toEqual([
      ["IdeaOpened", "pc-a"],
      ["IdeaClosed", "pc-a"],
      ["IdeaOpened", "pc-c"],
      ["IdeaUpdated", "pc-c"],
    ]);
  });
});

describe("an integrity violation halts exactly its stream; an operator resolves it", () => {
  // The gateway's pre-check reads the state the sequencer has written. With the sequencer stopped,
  // a second publish is checked against the state before the first: that is the race of two
  // publishes in flight at once, made deterministic.
  let heads: Record<string, number>;
  const rules: { channel: Channel; reason: RegExp }[] = [
    { channel: CHANNELS.dupOpen, reason: /already|opened again/i },
    { channel: CHANNELS.afterClose, reason: /closed/i },
    { channel: CHANNELS.backwards, reason: /earlier|backwards/i },
    { channel: CHANNELS.notOpen, reason: /never opened|not open/i },
  ];

  it("publishes that pass the pre-check but break the rules once numbered halt their streams", async () => {
    await publishSequenced(CHANNELS.afterClose, "open", ideaBody("open", "ac-x", at(1), "ac 0"));
    await publishSequenced(CHANNELS.backwards, "open", ideaBody("open", "bw-y", at(10), "bw 0"));
    await publishSequenced(CHANNELS.flowing, "open", ideaBody("open", "fl-f", at(1), "fl 0"));
    await publishSequenced(CHANNELS.notOpen, "open", ideaBody("open", "no-z", at(1), "no 0"));

    await stack.sequencer.stop();
    const racing: [Channel, Action, IdeaPublishRequest][] = [
      [CHANNELS.dupOpen, "open", ideaBody("open", "do-d", at(1), "do 0")],
      [CHANNELS.dupOpen, "open", ideaBody("open", "do-d", at(2), "do 1 (the second open)")],
      [CHANNELS.afterClose, "close", ideaBody("close", "ac-x", at(2), "ac 1")],
      [CHANNELS.afterClose, "update", ideaBody("update", "ac-x", at(3), "ac 2 (after the close)")],
      [CHANNELS.backwards, "update", ideaBody("update", "bw-y", at(30), "bw 1")],
      [CHANNELS.backwards, "update", ideaBody("update", "bw-y", at(20), "bw 2 (earlier than bw 1)")],
    ];
    for (const [channel, action, body] of racing) {
      const answer = await publish(channel, action, body);
      expect(answer.status, `${channel} ${body.comment}: ${JSON.stringify(answer.body)}`).toBe(202);
    }
    stack.sequencer = await stack.sequencer.restart();

    // An update of an idea never opened cannot pass the pre-check on any path, so it comes as an
    // INGEST message from another writer of the public subject (an older gateway, a bridge). A
    // subscriber is already waiting at the stream's end: its answer must say the stream halted.
    const notOpen = sid(CHANNELS.notOpen);
    const heldPoll = subscriber(`/api/v1/stream/${notOpen}/0/10`, { "x-long-poll": "4" }).then(async (res) => ({
      events: (await res.json()) as IdeaEvent[],
      status: res.headers.get(STREAM_STATUS_HEADER),
      head: res.headers.get(STREAM_HEAD_HEADER),
    }));
    await waitForHeldLongPoll(stack.stream.url);
    const stray: IngestMessage = {
      ingest_id: `ing_stray_${randomUUID()}`,
      stream_id: notOpen,
      publisher_id: publisher.id,
      event_type: "IdeaUpdated",
      data: ideaBody("update", "no-never", at(2), "no 1 (never opened)"),
      received_at: new Date().toISOString(),
    };
    await jetstream(nc).publish(ingestSubject(partitionOf(notOpen), notOpen), JSON.stringify(stray), {
      msgID: stray.ingest_id,
    });
    recordAccepted(notOpen, {
      ingest_id: stray.ingest_id,
      event_type: "IdeaUpdated",
      data: stray.data as IdeaPublishRequest,
    });

    let seen: StreamHalt[] = [];
    const listed = await waitFor(
      async () => {
        seen = await halts();
        return rules.every((r) => seen.some((h) => h.stream_id === sid(r.channel))) ? seen : undefined;
      },
      { timeoutMs: 20_000, what: "four halted streams" },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; halted: ${JSON.stringify(seen.map((h) => [h.stream_id, h.reason]))}`);
    });
    for (const { channel, reason } of rules) {
      const halt = listed.find((h) => h.stream_id === sid(channel));
      expect(halt?.reason).toMatch(reason);
    }
    expect(listed.map((h) => h.stream_id).sort()).toEqual(rules.map((r) => sid(r.channel)).sort());
    expect(listed.find((h) => h.stream_id === sid(CHANNELS.notOpen))?.ingest_id).toBe(stray.ingest_id);

    // Numbered up to the offending publish, then halted; what exists is still served.
    heads = {};
    const expectedHeads: Record<string, number> = {
      [CHANNELS.dupOpen]: 0,
      [CHANNELS.afterClose]: 1,
      [CHANNELS.backwards]: 1,
      [CHANNELS.notOpen]: 0,
    };
    for (const { channel } of rules) {
      const state = await streamState(sid(channel));
      expect(state).toEqual({ head: expectedHeads[channel], status: "halted" });
      heads[channel] = state.head;
      const idea = await subscriber(`/api/v1/ideas/${channel}`);
      expect(idea.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    }
    // The poll held since before the halt answers [] at its bound, saying halted.
    expect(await heldPoll).toEqual({ events: [], status: "halted", head: "0" });
  });

  it("another idea stream keeps flowing", async () => {
    const n = await publishSequenced(CHANNELS.flowing, "update", ideaBody("update", "fl-f", at(2), "fl 1"));
    const { events, status } = await readStream(sid(CHANNELS.flowing));
    expect(status).toBe("live");
    expect(events.map((e) => e.data.comment)).toEqual(["fl 0", "fl 1"]);
    expect(n).toBe(1);
  });

  it("a long poll held on a halted stream answers [] with status halted at its bound", async () => {
    const streamId = sid(CHANNELS.dupOpen);
    const t0 = performance.now();
    const res = await subscriber(`/api/v1/stream/${streamId}/${heads[CHANNELS.dupOpen]}/10`, { "x-long-poll": "1" });
    expect(await res.json()).toEqual([]);
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    // Answered at its bound, not absurdly late (a loaded machine may add seconds, never a minute).
    expect(elapsed).toBeLessThan(1_000 + 4_000);
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe(String(heads[CHANNELS.dupOpen]));
  });

  it("publishes to a halted stream are accepted and held, not numbered", async () => {
    const answer = await publish(CHANNELS.dupOpen, "update", ideaBody("update", "do-d", at(3), "do 2 (held)"));
    expect(answer.status).toBe(202);
    const { ingest_id } = publishAnswer(answer);
    await waitFor(async () => (await publishStatus(ingest_id)).status === "held", {
      what: "the publish held behind the halt",
    });
    expect(await streamState(sid(CHANNELS.dupOpen))).toEqual({ head: heads[CHANNELS.dupOpen], status: "halted" });
  });

  it("skip through the CLI parks the offending publish; what was held is numbered next, without a gap", async () => {
    const streamId = sid(CHANNELS.dupOpen);
    const listing = await heliographCli("halts");
    expect(listing.code, listing.stderr).toBe(0);
    expect(listing.stdout).toContain(streamId);

    const skipped = await heliographCli("halt", "skip", streamId);
    expect(skipped.code, skipped.stderr + skipped.stdout).toBe(0);
    await waitFor(async () => (await streamState(streamId)).head === 1, { what: "the held update numbered" });
    const { events, status } = await readStream(streamId);
    expect(status).toBe("live");
    expect(events.map((e) => e.data.comment)).toEqual(["do 0", "do 2 (held)"]);
    const parked = await parkedOf(streamId);
    expect(parked.map((p) => p.event.data.comment)).toEqual(["do 1 (the second open)"]);
    expect(parked[0]?.reason).toMatch(/already|opened again/i);
    expect(await publishStatus(parked[0]?.ingest_id as string)).toMatchObject({ status: "parked" });
    // And it goes on: the next publish gets the next number.
    expect(await publishSequenced(CHANNELS.dupOpen, "close", ideaBody("close", "do-d", at(4), "do 3"))).toBe(2);
  });

  it("retry with replacement data through the admin API numbers the fixed publish next", async () => {
    const streamId = sid(CHANNELS.backwards);
    const halt = (await halts()).find((h) => h.stream_id === streamId) as StreamHalt;
    expect(halt.event).toMatchObject({ event_type: "IdeaUpdated", data: { comment: "bw 2 (earlier than bw 1)" } });
    const fixed = ideaBody("update", "bw-y", at(40), "bw 2 (fixed by the operator)");
    const res = await admin("POST", `/streams/${streamId}/resolve`, {
      action: "retry",
      ingest_id: halt.ingest_id,
      data: fixed,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const entry = acceptedOf(streamId).find((a) => a.ingest_id === halt.ingest_id) as Accepted;
    entry.data = fixed;
    await waitFor(async () => (await streamState(streamId)).head === 2, { what: "the fixed publish numbered" });
    const { events, status } = await readStream(streamId);
    expect(status).toBe("live");
    expect(events[2]).toMatchObject({ event_number: 2, event_type: "IdeaUpdated", data: fixed });
    expect(await publishStatus(halt.ingest_id)).toMatchObject({ status: "sequenced", event_number: 2 });
  });

  it("a resolve naming another offending publish, or of a live stream, is refused", async () => {
    const wrong = await admin<ErrorBody>("POST", `/streams/${sid(CHANNELS.afterClose)}/resolve`, {
      action: "skip",
      ingest_id: "ing_not-the-offending-one",
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe("HALT_CHANGED");
    const live = await admin<ErrorBody>("POST", `/streams/${sid(CHANNELS.flowing)}/resolve`, { action: "skip" });
    expect(live.status).toBe(409);
    expect(live.body.error.code).toBe("STREAM_NOT_HALTED");
    expect((await streamState(sid(CHANNELS.afterClose))).status).toBe("halted");
  });

  it("the other halts resolve too: skip over the admin API; a retry that still breaks the rule halts again", async () => {
    const afterClose = sid(CHANNELS.afterClose);
    const res = await admin("POST", `/streams/${afterClose}/resolve`, { action: "skip" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);

    // Retried as it is, the update of an idea never opened is refused again: the same publish
    // halts the stream again, with a new halt, and nothing is numbered.
    const notOpen = sid(CHANNELS.notOpen);
    const first = (await halts()).find((h) => h.stream_id === notOpen) as StreamHalt;
    const retried = await heliographCli("halt", "retry", notOpen);
    expect(retried.code, retried.stderr + retried.stdout).toBe(0);
    const again = await waitFor(
      async () => (await halts()).find((h) => h.stream_id === notOpen && h.since !== first.since),
      { what: "the retried publish halting the stream again" },
    );
    expect(again.ingest_id).toBe(first.ingest_id);
    expect(again.reason).toMatch(/never opened|not open/i);
    expect(await streamState(notOpen)).toEqual({ head: 0, status: "halted" });

    const skipped = await heliographCli("halt", "skip", notOpen);
    expect(skipped.code, skipped.stderr + skipped.stdout).toBe(0);
    await waitFor(async () => (await halts()).length === 0, { what: "no halted stream" });
    for (const streamId of [afterClose, notOpen]) expect((await streamState(streamId)).status).toBe("live");
  });

  it("every accepted publish is read exactly once or is in the parked list, and numbers have no gap", async () => {
    const channels = [...rules.map((r) => r.channel), CHANNELS.flowing, CHANNELS.waited, CHANNELS.precheck];
    for (const channel of [...channels, CHANNELS.lifecycle]) {
      const streamId = sid(channel);
      const { events, status } = await readStream(streamId);
      expect(status).toBe("live");
      expect(events.map((e) => e.event_number)).toEqual(events.map((_, i) => i));
      const parked = new Set((await parkedOf(streamId)).map((p) => p.ingest_id));
      const publishes = acceptedOf(streamId);
      for (const p of publishes) {
        const reads = events.filter(
          (e) =>
            e.event_type === p.event_type &&
            e.data.id === p.data.id &&
            e.data.timestamp === p.data.timestamp &&
            e.data.comment === p.data.comment,
        );
        expect(reads.length + (parked.has(p.ingest_id) ? 1 : 0), `${streamId} ${p.ingest_id} ${p.data.comment}`).toBe(
          1,
        );
      }
      expect(events.length + parked.size).toBe(publishes.length);
      // The idea state over the gateway is the fold of what was read: each idea, and the open list.
      const folded = foldIdeas(events);
      for (const [id, projection] of folded) {
        const res = await subscriber(`/api/v1/ideas/${channel}/${id}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual(projection);
      }
      const open = (await (await subscriber(`/api/v1/ideas/${channel}`)).json()) as IdeaProjection[];
      const expectedOpen = [...folded.values()].filter((p) => p.state === "open");
      expect(open).toEqual(expectedOpen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    }
    // Ideas that exist only in a parked publish were never numbered, so they have no state.
    const neverNumbered = await subscriber(`/api/v1/ideas/${CHANNELS.notOpen}/no-never`);
    expect(neverNumbered.status).toBe(404);
    expect(((await neverNumbered.json()) as ErrorBody).error.code).toBe("IDEA_NOT_FOUND");
  });
});
