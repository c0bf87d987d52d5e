import {
  type ErrorBody,
  foldIdeas,
  type IdeaEvent,
  type IdeaEventType,
  type IdeaProjection,
  type IdeaPublishRequest,
  STREAM_HEAD_HEADER,
  STREAM_STATUS_HEADER,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_CLOSED, DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "@heliograph/contracts/fixtures";
import { streamKeys } from "@heliograph/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";

let fx: GatewayFixture;
let token: string;
const DESK = "desk";
const QUIET = "quiet";
const STOPPED = "stopped";
const SECRET = "secret";
const stream = (channel: string) => `ideas-${channel}`;

type DocumentExample = typeof DOCUMENT_IDEA_OPENED | typeof DOCUMENT_IDEA_UPDATED | typeof DOCUMENT_IDEA_CLOSED;

/** A publish body made of one of the document's examples, for another idea id and time. */
function ideaBody(example: DocumentExample, id: string, timestamp: string): IdeaPublishRequest {
  const { published_at: _, ...data } = structuredClone(example.data) as unknown as IdeaPublishRequest & {
    published_at: string;
  };
  return { ...data, id, timestamp };
}

const at = (minute: number) => `2018-06-04T14:${String(minute).padStart(2, "0")}:00.000Z`;

const get = (path: string, bearer: string | null = token) =>
  fetch(`${fx.url}${path}`, { headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` } });

async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  return ((await res.json()) as ErrorBody).error;
}

async function append(channel: string, type: IdeaEventType, example: DocumentExample, id: string, minute: number) {
  return fx.sequencer.appendIdea(stream(channel), type, ideaBody(example, id, at(minute)));
}

beforeAll(async () => {
  fx = await startGatewayFixture();
  token = await fx.tokenFor([stream(DESK), stream(QUIET), stream(STOPPED)]);
  // Ideas b and a open; b is updated; c opens and closes.
  await append(DESK, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-b", 1);
  await append(DESK, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-a", 2);
  await append(DESK, "IdeaUpdated", DOCUMENT_IDEA_UPDATED, "idea-b", 3);
  await append(DESK, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-c", 4);
  await append(DESK, "IdeaClosed", DOCUMENT_IDEA_CLOSED, "idea-c", 5);
  await append(STOPPED, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-s", 1);
  await fx.sequencer.halt(stream(STOPPED));
  await append(SECRET, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-x", 1);
});

afterAll(async () => {
  await fx?.close();
});

/** The channel's events, read over the stream route as a subscriber would. */
async function streamEvents(channel: string): Promise<IdeaEvent[]> {
  const res = await get(`/api/v1/stream/${stream(channel)}/-1/1000`);
  expect(res.status).toBe(200);
  return (await res.json()) as IdeaEvent[];
}

describe("GET /api/v1/ideas/:channel/:idea_id", () => {
  it("answers the stored projection text as it is, with the stream's head and status", async () => {
    const res = await get(`/api/v1/ideas/${DESK}/idea-b`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("4");
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("live");
    const text = await res.text();
    expect(text).toBe(await fx.redis.hget(streamKeys(stream(DESK)).ideas, "idea-b"));
    expect(JSON.parse(text)).toMatchObject({
      id: "idea-b",
      state: "open",
      comment: DOCUMENT_IDEA_UPDATED.data.comment,
      timestamp: at(3),
      event_number: 2,
      events: 2,
    });
  });

  it("equals the contracts fold of the stream's events, for every idea, open or closed", async () => {
    const folded = foldIdeas(await streamEvents(DESK));
    expect([...folded.keys()].sort()).toEqual(["idea-a", "idea-b", "idea-c"]);
    for (const [id, expected] of folded) {
      const res = await get(`/api/v1/ideas/${DESK}/${id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(expected);
    }
    expect(folded.get("idea-c")).toMatchObject({ state: "closed", events: 2 });
  });

  it("404 IDEA_NOT_FOUND for an idea the channel does not have, and on a channel with no ideas", async () => {
    for (const path of [`/api/v1/ideas/${DESK}/idea-zzz`, `/api/v1/ideas/${QUIET}/idea-a`]) {
      const res = await get(path);
      expect(res.status).toBe(404);
      const error = await errorOf(res);
      expect(error.code).toBe("IDEA_NOT_FOUND");
      expect(error.details[0]?.path).toBe("params.idea_id");
    }
  });

  it("a halted channel still serves its ideas and says halted", async () => {
    const res = await get(`/api/v1/ideas/${STOPPED}/idea-s`);
    expect(res.status).toBe(200);
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("halted");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("0");
    expect(await res.json()).toMatchObject({ id: "idea-s", state: "open" });
  });
});

describe("GET /api/v1/ideas/:channel", () => {
  it("answers the open ideas' projections by idea id, joined as stored", async () => {
    for (const path of [`/api/v1/ideas/${DESK}`, `/api/v1/ideas/${DESK}/`]) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("4");
      expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("live");
      const stored = await fx.redis.hmget(streamKeys(stream(DESK)).ideas, "idea-a", "idea-b");
      expect(await res.text()).toBe(`[${stored.join(",")}]`);
    }
  });

  it("follows the stream: an idea leaves the list when it closes, and joins when one opens", async () => {
    await append(DESK, "IdeaOpened", DOCUMENT_IDEA_OPENED, "idea-0", 6);
    await append(DESK, "IdeaClosed", DOCUMENT_IDEA_CLOSED, "idea-b", 7);
    const res = await get(`/api/v1/ideas/${DESK}`);
    const open = (await res.json()) as IdeaProjection[];
    expect(open.map((p) => p.id)).toEqual(["idea-0", "idea-a"]);
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("6");
    const folded = foldIdeas(await streamEvents(DESK));
    expect(open).toEqual([...folded.values()].filter((p) => p.state === "open").sort((a, b) => (a.id < b.id ? -1 : 1)));
  });

  it("[] with head -1 for a channel with nothing in it", async () => {
    const res = await get(`/api/v1/ideas/${QUIET}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("[]");
    expect(res.headers.get(STREAM_HEAD_HEADER)).toBe("-1");
    expect(res.headers.get(STREAM_STATUS_HEADER)).toBe("live");
  });
});

describe("bad requests", () => {
  const longest = "a".repeat(58);
  it.each([
    ["UPPER", `/api/v1/ideas/UPPER`],
    ["UPPER with an idea", `/api/v1/ideas/UPPER/idea-a`],
    ["a leading dash", `/api/v1/ideas/-desk`],
    ["59 characters (ideas-<channel> would pass 64)", `/api/v1/ideas/${longest}b/idea-a`],
    ["a slash", `/api/v1/ideas/a%2Fb`],
  ])("400 STREAM_ID_INVALID naming the channel: %s", async (_name, path) => {
    const res = await get(path);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("STREAM_ID_INVALID");
    expect(error.details[0]?.path).toBe("params.channel");
    expect(error.message).toContain("channel");
  });

  it("a 58-character channel is valid (403 here: not entitled)", async () => {
    expect((await get(`/api/v1/ideas/${longest}`)).status).toBe(403);
  });

  it("400 VALIDATION_FAILED naming an idea id that no idea can have", async () => {
    const res = await get(`/api/v1/ideas/${DESK}/${"x".repeat(65)}`);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.details[0]?.path).toBe("params.idea_id");
  });

  it("401 without or with a bad bearer token, before anything else is checked", async () => {
    for (const path of [`/api/v1/ideas/${DESK}/idea-a`, `/api/v1/ideas/${DESK}`, "/api/v1/ideas/UPPER"]) {
      const missing = await get(path, null);
      expect(missing.status).toBe(401);
      expect((await errorOf(missing)).code).toBe("AUTH_MISSING");
      const bad = await get(path, "hgt_not-a-real-token");
      expect(bad.status).toBe(401);
      expect((await errorOf(bad)).code).toBe("AUTH_INVALID");
    }
  });

  it("403 STREAM_FORBIDDEN for a channel whose stream is not entitled, whether or not it exists", async () => {
    for (const path of [
      `/api/v1/ideas/${SECRET}/idea-x`,
      `/api/v1/ideas/${SECRET}`,
      "/api/v1/ideas/never-written/idea-x",
      "/api/v1/ideas/never-written",
    ]) {
      const res = await get(path);
      expect(res.status).toBe(403);
      const error = await errorOf(res);
      expect(error.code).toBe("STREAM_FORBIDDEN");
      expect(error.details[0]?.path).toBe("params.channel");
    }
  });

  it("entitlement is to the stream ideas-<channel>, not to the channel name", async () => {
    const channelOnly = await fx.tokenFor([SECRET]);
    expect((await get(`/api/v1/ideas/${SECRET}`, channelOnly)).status).toBe(403);
    const entitled = await fx.tokenFor([stream(SECRET)]);
    const res = await get(`/api/v1/ideas/${SECRET}`, entitled);
    expect(res.status).toBe(200);
    expect(((await res.json()) as IdeaProjection[]).map((p) => p.id)).toEqual(["idea-x"]);
  });
});

describe("OpenAPI", () => {
  it("documents both idea routes", async () => {
    const doc = (await (await fetch(`${fx.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/api/v1/ideas/{channel}/{idea_id}", "/api/v1/ideas/{channel}"]),
    );
  });
});
