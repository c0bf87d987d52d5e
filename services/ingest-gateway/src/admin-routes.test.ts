import {
  Algorithm,
  ErrorBody,
  type ErrorCode,
  type HeliographError,
  IdeaChannel,
  ingestSubject,
  Publisher,
  PublisherCredentials,
  partitionOf,
  Resource,
  Subscriber,
  SubscriberCredentials,
} from "@heliograph/contracts";
import {
  DOCUMENT_IDEA_OPENED,
  DOCUMENT_RESOURCE_1,
  DOCUMENT_RESOURCE_DICT,
  DOCUMENT_TRADING_SIGNAL_BODY,
} from "@heliograph/contracts/fixtures";
import { streamKeys } from "@heliograph/store";
import { waitFor } from "@heliograph/testkit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});

type Method = "GET" | "POST" | "PUT" | "DELETE";
const admin = (method: Method, path: string, body?: unknown, token: string | null = gw.adminToken) =>
  gw.admin.inject({
    method,
    url: `/admin/v1${path}`,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { payload: typeof body === "string" ? body : JSON.stringify(body) }),
  });

function expectError(res: LightMyRequestResponse, status: number, code: ErrorCode) {
  expect(res.statusCode, res.body).toBe(status);
  expect(ErrorBody.parse(res.json()).error.code).toBe(code);
}

describe("the admin listener", () => {
  it("is the only place the admin API is served: the public app answers 404 ROUTE_NOT_FOUND with the right token", async () => {
    const res = await gw.app.inject({
      method: "GET",
      url: "/admin/v1/publishers",
      headers: { authorization: `Bearer ${gw.adminToken}` },
    });
    expectError(res, 404, "ROUTE_NOT_FOUND");
    expect((await admin("GET", "/publishers")).statusCode).toBe(200);
  });

  it("does not serve the publisher API", async () => {
    const res = await gw.admin.inject({ method: "POST", url: "/api/v1/create_trading_signal", headers: gw.headers() });
    expectError(res, 404, "ROUTE_NOT_FOUND");
  });
});

describe("admin authentication", () => {
  it.each([
    ["GET", "/publishers", undefined],
    ["POST", "/publishers", { name: "x" }],
    ["GET", "/resources/1", undefined],
    ["PUT", "/subscribers/x/streams", { streams: [] }],
    ["GET", "/streams/resource-1", undefined],
    ["GET", "/channels", undefined],
    ["GET", "/halts", undefined],
    ["POST", "/streams/resource-1/resolve", { action: "skip" }],
  ] as const)(
    "%s %s is 401 without the token, with a wrong one, or with another scheme",
    async (method, path, body) => {
      expectError(await admin(method, path, body, null), 401, "AUTH_MISSING");
      expectError(await admin(method, path, body, `${gw.adminToken}x`), 401, "AUTH_INVALID");
      expectError(await admin(method, path, body, "short"), 401, "AUTH_INVALID");
      const basic = await gw.admin.inject({
        method,
        url: `/admin/v1${path}`,
        headers: { authorization: `Basic ${gw.adminToken}` },
      });
      expectError(basic, 401, "AUTH_MISSING");
    },
  );

  it("refuses a publisher's credentials", async () => {
    const res = await gw.admin.inject({ method: "GET", url: "/admin/v1/publishers", headers: gw.headers() });
    expectError(res, 401, "AUTH_MISSING");
  });

  it("authenticates before reading the body", async () => {
    expectError(await admin("POST", "/publishers", "{not json", "wrong-token-0123456789"), 401, "AUTH_INVALID");
  });
});

describe("publishers", () => {
  it("creates, lists, reads and rotates; the secret is shown once and works on the publisher API", async () => {
    const created = await admin("POST", "/publishers", { id: "pub-new", name: "New publisher" });
    expect(created.statusCode, created.body).toBe(201);
    const creds = PublisherCredentials.parse(created.json());
    expect(creds).toMatchObject({ id: "pub-new", name: "New publisher" });

    const list = await admin("GET", "/publishers");
    expect(list.statusCode).toBe(200);
    const publishers = Publisher.array().parse(list.json());
    expect(publishers.map((p) => p.id)).toEqual(expect.arrayContaining(["pub-a", "pub-b", "pub-new"]));
    expect(list.body).not.toContain("secret");

    const one = await admin("GET", "/publishers/pub-new");
    expect(one.json()).toEqual({
      id: "pub-new",
      name: "New publisher",
      api_key: creds.api_key,
      status: "active",
      created_at: creds.created_at,
    });
    expectError(await admin("GET", "/publishers/nobody"), 404, "PUBLISHER_NOT_FOUND");
    expectError(await admin("POST", "/publishers", { id: "pub-new", name: "Again" }), 409, "PUBLISHER_EXISTS");
    expectError(await admin("POST", "/publishers", { name: "" }), 400, "VALIDATION_FAILED");
    expectError(await admin("POST", "/publishers", { name: "x", id: "Not Valid" }), 400, "VALIDATION_FAILED");

    // The new publisher gets an algorithm through the admin API and posts a signal.
    const algorithm = await admin("POST", "/algorithms", { publisher_id: "pub-new", name: "Momentum" });
    expect(algorithm.statusCode, algorithm.body).toBe(201);
    const algo = Algorithm.parse(algorithm.json());
    const publish = (key: string, secret: string) =>
      gw.app.inject({
        method: "POST",
        url: "/api/v1/create_trading_signal",
        headers: { "API-KEY": key, "API-SECRET": secret, "content-type": "application/json" },
        payload: { ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algo.id },
      });
    expect((await publish(creds.api_key, creds.api_secret)).statusCode).toBe(202);

    const rotated = await admin("POST", "/publishers/pub-new/rotate-secret");
    expect(rotated.statusCode).toBe(200);
    const next = PublisherCredentials.parse(rotated.json());
    expect(next.api_key).not.toBe(creds.api_key);
    expect((await publish(next.api_key, next.api_secret)).statusCode).toBe(202);
    // The publisher API's cache hears of the rotation through the control-plane watch.
    await waitFor(async () => (await publish(creds.api_key, creds.api_secret)).statusCode === 401, {
      what: "the old key to stop working",
    });
    expectError(await admin("POST", "/publishers/nobody/rotate-secret"), 404, "PUBLISHER_NOT_FOUND");
  });
});

describe("publisher lifecycle", () => {
  const publish = (creds: { api_key: string; api_secret: string }, algorithmId: number) =>
    gw.app.inject({
      method: "POST",
      url: "/api/v1/create_trading_signal",
      headers: { "API-KEY": creds.api_key, "API-SECRET": creds.api_secret, "content-type": "application/json" },
      payload: { ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algorithmId },
    });

  it("revoke refuses the key at once; rotate-secret makes the publisher active again with a new key", async () => {
    const creds = PublisherCredentials.parse((await admin("POST", "/publishers", { id: "pub-rev", name: "R" })).json());
    const algo = Algorithm.parse((await admin("POST", "/algorithms", { publisher_id: "pub-rev", name: "R" })).json());
    expect((await publish(creds, algo.id)).statusCode).toBe(202);

    const revoked = await admin("POST", "/publishers/pub-rev/revoke");
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(Publisher.parse(revoked.json())).toMatchObject({ id: "pub-rev", status: "revoked" });
    await gw.expectRejected(() => publish(creds, algo.id), 401, "AUTH_INVALID");
    expect((await admin("GET", "/publishers/pub-rev")).json()).toMatchObject({ status: "revoked" });

    const next = PublisherCredentials.parse((await admin("POST", "/publishers/pub-rev/rotate-secret")).json());
    expect(next.status).toBe("active");
    expect((await publish(next, algo.id)).statusCode).toBe(202);
    await gw.expectRejected(() => publish(creds, algo.id), 401, "AUTH_INVALID");
    expectError(await admin("POST", "/publishers/nobody/revoke"), 404, "PUBLISHER_NOT_FOUND");
  });

  it("delete (204) removes the publisher and its key; its algorithm stays; the id can be created again", async () => {
    const creds = PublisherCredentials.parse((await admin("POST", "/publishers", { id: "pub-del", name: "D" })).json());
    const algo = Algorithm.parse((await admin("POST", "/algorithms", { publisher_id: "pub-del", name: "D" })).json());
    expect((await publish(creds, algo.id)).statusCode).toBe(202);

    const deleted = await admin("DELETE", "/publishers/pub-del");
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(deleted.body).toBe("");
    expectError(await admin("GET", "/publishers/pub-del"), 404, "PUBLISHER_NOT_FOUND");
    expect(
      Publisher.array()
        .parse((await admin("GET", "/publishers")).json())
        .map((p) => p.id),
    ).not.toContain("pub-del");
    await gw.expectRejected(() => publish(creds, algo.id), 401, "AUTH_INVALID");
    expectError(await admin("DELETE", "/publishers/pub-del"), 404, "PUBLISHER_NOT_FOUND");
    expect((await admin("GET", `/algorithms/${algo.id}`)).statusCode).toBe(200);

    const again = PublisherCredentials.parse(
      (await admin("POST", "/publishers", { id: "pub-del", name: "D2" })).json(),
    );
    expect((await publish(again, algo.id)).statusCode).toBe(202);
    await gw.expectRejected(() => publish(creds, algo.id), 401, "AUTH_INVALID");
  });
});

describe("resources", () => {
  it("creates (201), lists, reads; refuses duplicates, unknown publishers and bad schemas", async () => {
    const body = {
      publisher_id: "pub-a",
      title: "Sentiment",
      key_value_type_pairs: { Symbol: "STRING", Score: "NUMBER", Note: { type: "STRING", optional: true } },
    };
    const created = await admin("POST", "/resources", body);
    expect(created.statusCode, created.body).toBe(201);
    const resource = Resource.parse(created.json());
    expect(resource).toMatchObject({ publisher_id: "pub-a", title: "Sentiment", stream_id: `resource-${resource.id}` });
    expect(resource.key_value_type_pairs).toEqual({
      Symbol: "STRING",
      Score: "NUMBER",
      Note: { type: "STRING", optional: true },
    });

    const list = Resource.array().parse((await admin("GET", "/resources")).json());
    expect(list.map((r) => r.id)).toEqual(expect.arrayContaining([1, 2, 3, resource.id]));
    expect((await admin("GET", `/resources/${resource.id}`)).json()).toEqual(resource);
    expect((await admin("GET", "/resources/1")).json()).toMatchObject({
      title: "Return stocks that are on fibonacci retracement channels in realtime.",
      key_value_type_pairs: { Symbol: "STRING", Market: "STRING", "Retracement channels": "ARRAY" },
    });
    expectError(await admin("GET", "/resources/4242"), 404, "RESOURCE_NOT_FOUND");
    expectError(await admin("GET", "/resources/abc"), 400, "VALIDATION_FAILED");

    expectError(await admin("POST", "/resources", { ...body, id: resource.id }), 409, "RESOURCE_EXISTS");
    expectError(await admin("POST", "/resources", { ...body, publisher_id: "nobody" }), 404, "PUBLISHER_NOT_FOUND");
    const badType = await admin("POST", "/resources", { ...body, key_value_type_pairs: { Symbol: "TEXT" } });
    expectError(badType, 400, "VALIDATION_FAILED");
    expect(ErrorBody.parse(badType.json()).error.details[0]?.path).toMatch(/^key_value_type_pairs/);
    expectError(await admin("POST", "/resources", { ...body, key_value_type_pairs: {} }), 400, "VALIDATION_FAILED");
  });
});

describe("algorithms", () => {
  it("creates (201), lists, reads; refuses duplicates and unknown publishers", async () => {
    const created = await admin("POST", "/algorithms", { publisher_id: "pub-b", name: "Mean reversion", id: 77 });
    expect(created.statusCode, created.body).toBe(201);
    expect(Algorithm.parse(created.json())).toMatchObject({ id: 77, publisher_id: "pub-b", stream_id: "algorithm-77" });
    const list = Algorithm.array().parse((await admin("GET", "/algorithms")).json());
    expect(list.map((a) => a.id)).toEqual(expect.arrayContaining([1, 2, 77]));
    expect((await admin("GET", "/algorithms/77")).json()).toEqual(created.json());
    expectError(await admin("GET", "/algorithms/4242"), 404, "ALGORITHM_NOT_FOUND");
    expectError(
      await admin("POST", "/algorithms", { publisher_id: "pub-b", name: "Again", id: 77 }),
      409,
      "ALGORITHM_EXISTS",
    );
    expectError(await admin("POST", "/algorithms", { publisher_id: "nobody", name: "x" }), 404, "PUBLISHER_NOT_FOUND");
  });
});

describe("subscribers", () => {
  it("creates (201) with a token shown once, lists, reads and replaces entitlements", async () => {
    const created = await admin("POST", "/subscribers", { id: "sub-1", name: "Fund", streams: ["resource-1"] });
    expect(created.statusCode, created.body).toBe(201);
    const creds = SubscriberCredentials.parse(created.json());
    expect(creds).toMatchObject({ id: "sub-1", streams: ["resource-1"] });
    expect(creds.token.length).toBeGreaterThan(20);

    const list = await admin("GET", "/subscribers");
    expect(
      Subscriber.array()
        .parse(list.json())
        .map((s) => s.id),
    ).toContain("sub-1");
    expect(list.body).not.toContain(creds.token);

    const set = await admin("PUT", "/subscribers/sub-1/streams", { streams: ["algorithm-1", "resource-1"] });
    expect(set.statusCode, set.body).toBe(200);
    expect(Subscriber.parse(set.json()).streams).toEqual(["algorithm-1", "resource-1"]);
    expect((await admin("GET", "/subscribers/sub-1")).json()).toMatchObject({ streams: ["algorithm-1", "resource-1"] });

    expectError(await admin("POST", "/subscribers", { id: "sub-1", name: "Again" }), 409, "SUBSCRIBER_EXISTS");
    expectError(await admin("GET", "/subscribers/nobody"), 404, "SUBSCRIBER_NOT_FOUND");
    expectError(await admin("PUT", "/subscribers/nobody/streams", { streams: [] }), 404, "SUBSCRIBER_NOT_FOUND");
    const badStream = await admin("PUT", "/subscribers/sub-1/streams", { streams: ["Bad Stream"] });
    expectError(badStream, 400, "VALIDATION_FAILED");
    expect(ErrorBody.parse(badStream.json()).error.details[0]?.path).toBe("streams.0");
  });
});

describe("subscriber lifecycle", () => {
  const authenticates = (token: string) =>
    gw.controlPlane.authenticateSubscriber(`Bearer ${token}`).then(
      (id) => id,
      (err: HeliographError) => err.code,
    );

  it("rotate-token replaces the token; revoke refuses it and entitles nothing; rotate makes it active again", async () => {
    const creds = SubscriberCredentials.parse(
      (await admin("POST", "/subscribers", { id: "sub-life", name: "Life", streams: ["resource-1"] })).json(),
    );
    expect(await authenticates(creds.token)).toBe("sub-life");

    const rotated = await admin("POST", "/subscribers/sub-life/rotate-token");
    expect(rotated.statusCode, rotated.body).toBe(200);
    const next = SubscriberCredentials.parse(rotated.json());
    expect(next).toMatchObject({ id: "sub-life", streams: ["resource-1"], status: "active" });
    expect(next.token).not.toBe(creds.token);
    expect(await authenticates(next.token)).toBe("sub-life");
    expect(await authenticates(creds.token)).toBe("AUTH_INVALID");

    const revoked = await admin("POST", "/subscribers/sub-life/revoke");
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(Subscriber.parse(revoked.json())).toMatchObject({ status: "revoked", streams: ["resource-1"] });
    expect(await authenticates(next.token)).toBe("AUTH_INVALID");
    expect(await gw.controlPlane.isEntitled("sub-life", "resource-1")).toBe(false);

    const again = SubscriberCredentials.parse((await admin("POST", "/subscribers/sub-life/rotate-token")).json());
    expect(again.status).toBe("active");
    expect(await authenticates(again.token)).toBe("sub-life");
    expect(await gw.controlPlane.isEntitled("sub-life", "resource-1")).toBe(true);
    expectError(await admin("POST", "/subscribers/nobody/rotate-token"), 404, "SUBSCRIBER_NOT_FOUND");
    expectError(await admin("POST", "/subscribers/nobody/revoke"), 404, "SUBSCRIBER_NOT_FOUND");
  });

  it("delete (204) removes the subscriber, its token and entitlements", async () => {
    const creds = SubscriberCredentials.parse(
      (await admin("POST", "/subscribers", { id: "sub-gone", name: "Gone", streams: ["resource-1"] })).json(),
    );
    const deleted = await admin("DELETE", "/subscribers/sub-gone");
    expect(deleted.statusCode, deleted.body).toBe(204);
    expectError(await admin("GET", "/subscribers/sub-gone"), 404, "SUBSCRIBER_NOT_FOUND");
    expect(await authenticates(creds.token)).toBe("AUTH_INVALID");
    expect(await gw.controlPlane.isEntitled("sub-gone", "resource-1")).toBe(false);
    expectError(await admin("DELETE", "/subscribers/sub-gone"), 404, "SUBSCRIBER_NOT_FOUND");
  });
});

describe("idea channels", () => {
  it("creates (201), lists and reads; a second create of an id is 409 IDEA_CHANNEL_EXISTS", async () => {
    const created = await admin("POST", "/channels", { id: "equities", publisher_id: "pub-b", title: "Equities" });
    expect(created.statusCode, created.body).toBe(201);
    const channel = IdeaChannel.parse(created.json());
    expect(channel).toMatchObject({
      id: "equities",
      publisher_id: "pub-b",
      title: "Equities",
      stream_id: "ideas-equities",
    });
    expect((await admin("GET", "/channels/equities")).json()).toEqual(channel);
    const list = IdeaChannel.array().parse((await admin("GET", "/channels")).json());
    expect(list.map((c) => c.id)).toEqual(expect.arrayContaining(["a-ideas", "b-ideas", "equities"]));
    // Kept in the control-plane bucket (NATS KV), not in Redis.
    expect(await gw.controlPlane.getIdeaChannel("equities")).toEqual(channel);
    expect(await gw.redis.keys("*equities*")).toEqual([]);

    expectError(
      await admin("POST", "/channels", { id: "equities", publisher_id: "pub-a", title: "Again" }),
      409,
      "IDEA_CHANNEL_EXISTS",
    );
    expectError(await admin("GET", "/channels/nothing"), 404, "IDEA_CHANNEL_NOT_FOUND");
    expectError(
      await admin("POST", "/channels", { id: "x", publisher_id: "nobody", title: "x" }),
      404,
      "PUBLISHER_NOT_FOUND",
    );
    expectError(
      await admin("POST", "/channels", { id: "Bad Id", publisher_id: "pub-a", title: "x" }),
      400,
      "VALIDATION_FAILED",
    );
    expectError(await admin("POST", "/channels", { id: "x", publisher_id: "pub-a" }), 400, "VALIDATION_FAILED");
  });
});

describe("deleting resources, algorithms and idea channels", () => {
  const publishTo = (path: string, payload: Record<string, unknown>) =>
    gw.app.inject({
      method: "POST",
      url: `/api/v1/${path}`,
      headers: { ...gw.headers(), "content-type": "application/json" },
      payload,
    });
  const ideaBody = (id: string) => {
    const { published_at: _, ...data } = structuredClone(DOCUMENT_IDEA_OPENED.data);
    return { ...data, id };
  };
  const kinds = [
    {
      kind: "resource",
      path: "/resources",
      id: "501",
      create: {
        id: 501,
        publisher_id: "pub-a",
        title: "Gone",
        key_value_type_pairs: DOCUMENT_RESOURCE_1.key_value_type_pairs,
      },
      stream: "resource-501",
      notFound: "RESOURCE_NOT_FOUND",
      publish: () => publishTo("upload_resource", { resource_id: 501, resource_dict: DOCUMENT_RESOURCE_DICT }),
    },
    {
      kind: "algorithm",
      path: "/algorithms",
      id: "502",
      create: { id: 502, publisher_id: "pub-a", name: "Gone" },
      stream: "algorithm-502",
      notFound: "ALGORITHM_NOT_FOUND",
      publish: () => publishTo("create_trading_signal", { ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: 502 }),
    },
    {
      kind: "idea channel",
      path: "/channels",
      id: "gone-ideas",
      create: { id: "gone-ideas", publisher_id: "pub-a", title: "Gone" },
      stream: "ideas-gone-ideas",
      notFound: "IDEA_CHANNEL_NOT_FOUND",
      publish: (() => {
        let n = 0;
        return () => publishTo("ideas/gone-ideas/open", ideaBody(`gone-${n++}`));
      })(),
    },
  ] as const;

  it.each(kinds)(
    "delete (204) refuses new publishes to the $kind ($notFound); what it published before stays; the id can be created again",
    async ({ path, id, create, stream, notFound, publish }) => {
      expect((await admin("POST", path, create)).statusCode).toBe(201);
      const before = await publish();
      expect(before.statusCode, before.body).toBe(202);
      const stored = await gw.ingestCount();

      const deleted = await admin("DELETE", `${path}/${id}`);
      expect(deleted.statusCode, deleted.body).toBe(204);
      expect(deleted.body).toBe("");
      expectError(await admin("GET", `${path}/${id}`), 404, notFound);
      expect(((await admin("GET", path)).json() as { stream_id: string }[]).map((r) => r.stream_id)).not.toContain(
        stream,
      );
      await gw.expectRejected(publish, 404, notFound);
      expectError(await admin("DELETE", `${path}/${id}`), 404, notFound);
      // The publish accepted before the delete is still in INGEST, to be numbered.
      expect(await gw.ingestCount()).toBe(stored);
      expect(
        (await gw.lastIngest(ingestSubject(partitionOf(stream, gw.config.PARTITIONS), stream))).message.ingest_id,
      ).toBe((before.json() as { ingest_id: string }).ingest_id);

      const again = await admin("POST", path, create);
      expect(again.statusCode, again.body).toBe(201);
      expect((again.json() as { stream_id: string }).stream_id).toBe(stream);
      expect((await publish()).statusCode).toBe(202);
    },
  );

  it("answers 404 for an id that never existed and 400 for one that cannot exist", async () => {
    expectError(await admin("DELETE", "/resources/4242"), 404, "RESOURCE_NOT_FOUND");
    expectError(await admin("DELETE", "/algorithms/4242"), 404, "ALGORITHM_NOT_FOUND");
    expectError(await admin("DELETE", "/channels/never"), 404, "IDEA_CHANNEL_NOT_FOUND");
    expectError(await admin("DELETE", "/resources/abc"), 400, "VALIDATION_FAILED");
    expectError(await admin("DELETE", "/channels/Not%20Valid"), 400, "VALIDATION_FAILED");
  });
});

describe("streams", () => {
  it("answers a stream's head, status and held count", async () => {
    expect((await admin("GET", "/streams/resource-1")).json()).toEqual({
      stream_id: "resource-1",
      head: -1,
      status: "live",
      held: 0,
    });
    const keys = streamKeys("algorithm-9");
    await gw.redis.set(keys.head, "4");
    await gw.redis.hset(keys.status, { status: "halted", reason: "test" });
    expect((await admin("GET", "/streams/algorithm-9")).json()).toEqual({
      stream_id: "algorithm-9",
      head: 4,
      status: "halted",
      held: 0,
    });
    expectError(await admin("GET", "/streams/Not_Valid"), 400, "STREAM_ID_INVALID");
  });
});

describe("OpenAPI", () => {
  it("documents every admin route with a description and tags", async () => {
    const doc = (await gw.admin.inject({ method: "GET", url: "/openapi.json" })).json();
    const expected = {
      "/admin/v1/publishers": ["get", "post"],
      "/admin/v1/publishers/{id}": ["get", "delete"],
      "/admin/v1/publishers/{id}/rotate-secret": ["post"],
      "/admin/v1/publishers/{id}/revoke": ["post"],
      "/admin/v1/resources": ["get", "post"],
      "/admin/v1/resources/{id}": ["get", "delete"],
      "/admin/v1/algorithms": ["get", "post"],
      "/admin/v1/algorithms/{id}": ["get", "delete"],
      "/admin/v1/subscribers": ["get", "post"],
      "/admin/v1/subscribers/{id}": ["get", "delete"],
      "/admin/v1/subscribers/{id}/rotate-token": ["post"],
      "/admin/v1/subscribers/{id}/revoke": ["post"],
      "/admin/v1/subscribers/{id}/streams": ["put"],
      "/admin/v1/channels": ["get", "post"],
      "/admin/v1/channels/{id}": ["get", "delete"],
      "/admin/v1/webhooks": ["get", "post"],
      "/admin/v1/webhooks/{id}": ["get", "delete"],
      "/admin/v1/webhooks/{id}/pause": ["post"],
      "/admin/v1/webhooks/{id}/resume": ["post"],
      "/admin/v1/webhooks/{id}/replay": ["post"],
      "/admin/v1/webhooks/{id}/rotate-secret": ["post"],
      "/admin/v1/webhooks/{id}/attempts": ["get"],
      "/admin/v1/halts": ["get"],
      "/admin/v1/streams/{stream_id}": ["get"],
      "/admin/v1/streams/{stream_id}/halt": ["get"],
      "/admin/v1/streams/{stream_id}/resolve": ["post"],
      "/admin/v1/streams/{stream_id}/parked": ["get"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) {
        const op = doc.paths[path]?.[method];
        expect(op, `${method} ${path}`).toBeDefined();
        expect(op.description).toBeTruthy();
        expect(op.tags?.length).toBeGreaterThan(0);
      }
    }
    expect(doc.paths["/admin/v1/publishers"].post.responses).toHaveProperty("201");
  });
});
