/**
 * The idea calls without a sequencer: nothing gets numbered here, so these are the checks made
 * before a publish is stored, what INGEST receives, waits that run out, and the lookup of a
 * publish that is accepted but not numbered.
 */
import {
  ErrorBody,
  type IdeaPublishRequest,
  ingestSubject,
  PublishAccepted,
  PublishStatus,
  partitionOf,
} from "@heliograph/contracts";
import { DOCUMENT_IDEA_CLOSED, DOCUMENT_IDEA_OPENED } from "@heliograph/contracts/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});

/** The document's event `data` as a publish body: everything but `published_at`. */
function bodyOf(event: { data: Record<string, unknown> }, overrides: Partial<IdeaPublishRequest> = {}) {
  const { published_at: _, ...data } = structuredClone(event.data);
  return { ...data, ...overrides } as IdeaPublishRequest;
}

function ideaCall(
  channel: string,
  action: "open" | "update" | "close",
  body: unknown,
  headers: Record<string, string> = gw.headers(),
) {
  return gw.app.inject({
    method: "POST",
    url: `/api/v1/ideas/${channel}/${action}`,
    headers: { "content-type": "application/json", ...headers },
    payload: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const expectRejected: TestGateway["expectRejected"] = (send, status, code) => gw.expectRejected(send, status, code);

const subjectOf = (streamId: string) => ingestSubject(partitionOf(streamId, gw.config.PARTITIONS), streamId);

describe("POST /api/v1/ideas/:channel/open", () => {
  it("stores the document's IdeaOpened data, without published_at, as an IngestMessage of ideas-<channel>", async () => {
    const body = bodyOf(DOCUMENT_IDEA_OPENED);
    const res = await ideaCall("a-ideas", "open", body);
    expect(res.statusCode, res.body).toBe(202);
    const answer = PublishAccepted.parse(res.json());
    expect(answer).toMatchObject({ status: "accepted", stream_id: "ideas-a-ideas", id: body.id });

    const { message, msgId } = await gw.lastIngest(subjectOf("ideas-a-ideas"));
    expect(msgId).toBe(answer.ingest_id);
    expect(message).toMatchObject({
      ingest_id: answer.ingest_id,
      stream_id: "ideas-a-ideas",
      publisher_id: gw.a.id,
      event_type: "IdeaOpened",
    });
    expect(message.data).toEqual(bodyOf(DOCUMENT_IDEA_OPENED));
    expect(message.data).not.toHaveProperty("published_at");
  });

  it("refuses a field the document's data does not have, and published_at", async () => {
    const extra = { ...bodyOf(DOCUMENT_IDEA_OPENED, { id: "extra-field" }), ticker: "ENI" };
    await expectRejected(() => ideaCall("a-ideas", "open", extra), 400, "VALIDATION_FAILED");
    const withPublishedAt = structuredClone(DOCUMENT_IDEA_OPENED.data);
    await expectRejected(() => ideaCall("a-ideas", "open", withPublishedAt), 400, "VALIDATION_FAILED");
  });
});

describe("channel checks", () => {
  it("an unknown channel is 404 IDEA_CHANNEL_NOT_FOUND", async () => {
    const err = await expectRejected(
      () => ideaCall("nobody", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "c404" })),
      404,
      "IDEA_CHANNEL_NOT_FOUND",
    );
    expect(err.error.details[0]?.path).toBe("params.channel");
  });

  it("another publisher's channel is 403 IDEA_CHANNEL_FORBIDDEN", async () => {
    await expectRejected(
      () => ideaCall("b-ideas", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "c403" })),
      403,
      "IDEA_CHANNEL_FORBIDDEN",
    );
    const own = await ideaCall("b-ideas", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "c403" }), gw.headers(gw.b));
    expect(own.statusCode, own.body).toBe(202);
  });

  it("a channel id that cannot exist is a 400 naming it", async () => {
    const err = await expectRejected(
      () => ideaCall("Not_Valid", "open", bodyOf(DOCUMENT_IDEA_OPENED)),
      400,
      "VALIDATION_FAILED",
    );
    expect(JSON.stringify(err.error.details)).toContain("channel");
  });

  it("credentials come first: 401 without them", async () => {
    await expectRejected(() => ideaCall("a-ideas", "open", bodyOf(DOCUMENT_IDEA_OPENED), {}), 401, "AUTH_MISSING");
  });
});

describe("422 IDEA_BODY_INCONSISTENT", () => {
  it.each([
    ["open", { state: "closed" }, ["idea.state"]],
    ["open", { close_timestamp: "2018-06-04T14:35:11.225Z" }, ["idea.close_timestamp"]],
    [
      "update",
      { state: "closed", close_timestamp: "2018-06-04T14:35:11.225Z" },
      ["idea.state", "idea.close_timestamp"],
    ],
    ["close", { state: "open" }, ["idea.state"]],
    ["close", { close_timestamp: null }, ["idea.close_timestamp"]],
  ] as const)("%s with idea %j names %j", async (action, idea, paths) => {
    const base = action === "close" ? DOCUMENT_IDEA_CLOSED : DOCUMENT_IDEA_OPENED;
    const body = bodyOf(base, { id: `inconsistent-${action}` });
    Object.assign(body.idea, idea);
    const err = await expectRejected(() => ideaCall("a-ideas", action, body), 422, "IDEA_BODY_INCONSISTENT");
    expect(err.error.details.map((d) => d.path).sort()).toEqual([...paths].sort());
  });
});

describe("409 pre-checks that need no numbered event", () => {
  it.each(["update", "close"] as const)("%s of an idea never opened is 409 IDEA_NOT_OPEN", async (action) => {
    const base = action === "close" ? DOCUMENT_IDEA_CLOSED : DOCUMENT_IDEA_OPENED;
    const err = await expectRejected(
      () => ideaCall("a-ideas", action, bodyOf(base, { id: "never-opened" })),
      409,
      "IDEA_NOT_OPEN",
    );
    expect(err.error.details[0]).toMatchObject({ path: "id" });
  });
});

describe("X-Heliograph-Wait", () => {
  it.each(["abc", "-1", "31", "1e1", "", "5s", "0x10", "30.0000001"])("%j is 400 WAIT_INVALID", async (wait) => {
    const body = bodyOf(DOCUMENT_IDEA_OPENED, { id: "wait-invalid" });
    const err = await expectRejected(
      () => ideaCall("a-ideas", "open", body, gw.headers(gw.a, { "x-heliograph-wait": wait })),
      400,
      "WAIT_INVALID",
    );
    expect(err.error.details[0]?.path).toBe("headers.x-heliograph-wait");
  });

  it("is checked before the body is read, on every publish", async () => {
    const res = await gw.app.inject({
      method: "POST",
      url: "/api/v1/create_trading_signal",
      headers: { ...gw.headers(), "content-type": "application/json", "x-heliograph-wait": "forever" },
      payload: "{not json",
    });
    expect(ErrorBody.parse(res.json()).error.code).toBe("WAIT_INVALID");
  });

  it("when the bound passes without a sequencer, the answer is the usual 202, after the bound", async () => {
    const body = bodyOf(DOCUMENT_IDEA_OPENED, { id: "wait-bound" });
    const started = performance.now();
    const res = await ideaCall("a-ideas", "open", body, gw.headers(gw.a, { "x-heliograph-wait": "0.3" }));
    const elapsed = performance.now() - started;
    expect(res.statusCode, res.body).toBe(202);
    expect(PublishAccepted.parse(res.json()).id).toBe("wait-bound");
    expect(elapsed).toBeGreaterThanOrEqual(290);
    // At its bound, not absurdly late (a loaded machine may add seconds).
    expect(elapsed).toBeLessThan(300 + 4_000);
  });

  it("0 does not wait", async () => {
    const res = await ideaCall(
      "a-ideas",
      "open",
      bodyOf(DOCUMENT_IDEA_OPENED, { id: "wait-zero" }),
      gw.headers(gw.a, { "x-heliograph-wait": "0" }),
    );
    expect(res.statusCode, res.body).toBe(202);
  });
});

describe("idempotent idea publishes", () => {
  it("a retry with the same key replays the first answer and stores nothing more", async () => {
    const headers = gw.headers(gw.a, { "idempotency-key": "idea-open-1" });
    const body = bodyOf(DOCUMENT_IDEA_OPENED, { id: "idem-idea" });
    const first = await ideaCall("a-ideas", "open", body, headers);
    expect(first.statusCode, first.body).toBe(202);
    const before = await gw.ingestCount();
    const again = await ideaCall("a-ideas", "open", body, headers);
    expect(again.statusCode).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    expect(await gw.ingestCount()).toBe(before);
  });
});

describe("GET /api/v1/publishes/:ingest_id", () => {
  const lookup = (ingestId: string, headers: Record<string, string> = gw.headers()) =>
    gw.app.inject({ method: "GET", url: `/api/v1/publishes/${ingestId}`, headers });

  it("is accepted while nothing numbers it", async () => {
    const res = await ideaCall("a-ideas", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "lookup-accepted" }));
    const answer = PublishAccepted.parse(res.json());
    const status = await lookup(answer.ingest_id);
    expect(status.statusCode, status.body).toBe(200);
    expect(PublishStatus.parse(status.json())).toEqual({
      status: "accepted",
      ingest_id: answer.ingest_id,
      stream_id: "ideas-a-ideas",
    });
  });

  it("works for every publish, a signal too", async () => {
    const res = await gw.app.inject({
      method: "POST",
      url: "/api/v1/create_trading_signal",
      headers: { ...gw.headers(), "content-type": "application/json" },
      payload: JSON.stringify({
        algorithm_id: 1,
        ticker_symbol: "AAPL",
        order_type: "market",
        portfolio_ratio_investment: 0.01,
        side: "buy",
        time_in_force: "gtc",
      }),
    });
    const answer = PublishAccepted.parse(res.json());
    expect((await lookup(answer.ingest_id)).json()).toMatchObject({ status: "accepted", stream_id: "algorithm-1" });
  });

  it("another publisher's publish, or an unknown id, is 404 INGEST_NOT_FOUND", async () => {
    const res = await ideaCall("a-ideas", "open", bodyOf(DOCUMENT_IDEA_OPENED, { id: "lookup-other" }));
    const answer = PublishAccepted.parse(res.json());
    const other = await lookup(answer.ingest_id, gw.headers(gw.b));
    expect(other.statusCode).toBe(404);
    expect(ErrorBody.parse(other.json()).error.code).toBe("INGEST_NOT_FOUND");
    const unknown = await lookup("ing_00000000000000000000000000000000");
    expect(ErrorBody.parse(unknown.json()).error.code).toBe("INGEST_NOT_FOUND");
  });

  it("needs the publisher's credentials", async () => {
    const res = await lookup("ing_x", {});
    expect(res.statusCode).toBe(401);
  });
});
