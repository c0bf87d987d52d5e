import {
  type Algorithm,
  type IdeaChannel,
  PublishAccepted,
  PublishSequenced,
  type Resource,
} from "@heliograph/contracts";
import {
  DOCUMENT_IDEA_OPENED,
  DOCUMENT_RESOURCE_DICT,
  DOCUMENT_TRADING_SIGNAL_BODY,
} from "@heliograph/contracts/fixtures";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminModel } from "./admin-model.js";
import { expectationProblem } from "./answer-checks.js";
import {
  bodyText,
  contentTypes,
  headerSet,
  headerValue,
  hostileString,
  pathNoise,
  pathSegment,
  wireSafe,
} from "./arbitraries.js";
import { type HostileStack, startHostileStack } from "./hostile-stack.js";
import { assertEveryAnswer, request } from "./property.js";
import { PublishModel } from "./publish-model.js";
import type { RawRequest, RawResponse } from "./raw-http.js";

// Promise 5 on the ingest gateway: every publisher and admin route, every header, hostile values.
// Each publish is judged by a model of the publisher API (publish-model.ts), written from the
// contract and independent of the gateway: a valid request must be accepted and only a valid one,
// and a bad one refused with its code. No sequencer runs, so INGEST keeps every stored publish:
// its message count must equal the number of distinct ingest ids answered 2xx.
let stack: HostileStack;
let port: number;
/** The admin listener: the admin API is served there only. */
let adminPort: number;
let model: PublishModel;
let adminModel: AdminModel;
const acceptedIngestIds = new Set<string>();

beforeAll(async () => {
  stack = await startHostileStack({ services: ["ingest-gateway"] });
  port = stack.services["ingest-gateway"]?.port as number;
  adminPort = Number(new URL(stack.services["ingest-gateway"]?.adminUrl as string).port);
  // What the control plane holds, read back through the admin API.
  const resources = await stack.admin<Resource[]>("GET", "/resources");
  const algorithms = await stack.admin<Algorithm[]>("GET", "/algorithms");
  const channels = await stack.admin<IdeaChannel[]>("GET", "/channels");
  adminModel = new AdminModel(stack.adminToken);
  model = new PublishModel({
    publishers: new Map([stack.a, stack.b].map((p) => [p.api_key, { id: p.id, secret: p.api_secret }])),
    resources: new Map(resources.map((r) => [r.id, { publisherId: r.publisher_id, pairs: r.key_value_type_pairs }])),
    algorithms: new Map(algorithms.map((a) => [a.id, a.publisher_id])),
    channels: new Map(channels.map((c) => [c.id, c.publisher_id])),
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** After each property: the process lives, and INGEST holds exactly the accepted publishes. */
async function expectAliveAndNothingExtraStored(): Promise<void> {
  await stack.assertAlive();
  expect(await stack.ingestMessages()).toBe(acceptedIngestIds.size);
}

/** The answer is the model's, and an accepted publish is a publish answer whose ingest id is kept. */
function checkAgainstModel(req: RawRequest, res: RawResponse): void {
  const { expected, commit } = model.expect(req);
  const problem = expectationProblem(res, expected);
  if (problem) throw new Error(problem);
  if (res.status >= 200 && res.status < 300) {
    if (res.status !== 202 && res.status !== 201 && res.status !== 200) throw new Error(`answered ${res.status}`);
    if (req.method === "POST") {
      const answer = (res.status === 202 ? PublishAccepted : PublishSequenced).safeParse(res.json);
      if (!answer.success) throw new Error(`a ${res.status} that is not a publish answer: ${res.body}`);
      acceptedIngestIds.add(answer.data.ingest_id);
    }
    commit();
  }
}

const publisherCredentials = () =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constant([
        ["API-KEY", stack.a.api_key],
        ["API-SECRET", stack.a.api_secret],
      ] as [string, string][]),
    },
    {
      weight: 1,
      arbitrary: fc.constant([
        ["API-KEY", stack.b.api_key],
        ["API-SECRET", stack.b.api_secret],
      ] as [string, string][]),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          headerSet("API-KEY", headerValue([stack.a.api_key, stack.b.api_key])),
          headerSet("API-SECRET", headerValue([stack.a.api_secret, "wrong-secret"])),
        )
        .map(([k, s]) => [...k, ...s]),
    },
  );

const idempotencyKeys = headerSet(
  "Idempotency-Key",
  fc.oneof(
    { weight: 4, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom("fixed-key-1", "fixed-key-2") },
    { weight: 2, arbitrary: headerValue(["k"]) },
    { weight: 1, arbitrary: fc.constantFrom("a".repeat(255), "a".repeat(256), "key with space", "ключ", "k\x7f") },
  ),
);

const waitHeader = fc.oneof(
  { weight: 6, arbitrary: fc.constant([] as [string, string][]) },
  {
    weight: 1,
    arbitrary: headerSet(
      "X-Heliograph-Wait",
      // Wire-safe: control characters in a header are the HTTP parser's (raw-protocol.test.ts).
      fc.oneof(fc.constantFrom("0", "0.05", "-1", "31", "1e1", "NaN", " 0 "), hostileString.map(wireSafe)),
    ),
  },
);

/** Extra headers nobody asked for: a hostile request id, a huge cookie, a lying Content-Length. */
const noiseHeaders = fc.oneof(
  { weight: 8, arbitrary: fc.constant([] as [string, string][]) },
  { weight: 1, arbitrary: headerSet("X-Request-Id", headerValue(["req-1"])) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<[string, string][]>(
      [["Transfer-Encoding", "chunked"]],
      [["Expect", "100-continue"]],
      [["Content-Encoding", "gzip"]],
    ),
  },
);

/**
 * Publishes to `path`: half with every part hostile (method, path, credentials, headers, body), half
 * with a clean envelope (a publisher's own credentials, JSON, maybe a fresh Idempotency-Key) around
 * a hostile body, so that bodies reach the schema and content checks and valid ones get accepted.
 */
function publishRequests(
  path: fc.Arbitrary<string>,
  valid: Record<string, unknown>,
  deepPaths?: string[][],
  cleanPath: fc.Arbitrary<string> = path,
): fc.Arbitrary<RawRequest> {
  const hostile = fc
    .tuple(
      fc.oneof(
        { weight: 12, arbitrary: fc.constant("POST") },
        { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "OPTIONS") },
      ),
      path,
      pathNoise,
      publisherCredentials(),
      idempotencyKeys,
      contentTypes,
      waitHeader,
      noiseHeaders,
      bodyText(valid, deepPaths),
    )
    .map(([method, p, noise, creds, key, type, wait, noiseH, body]) =>
      request(method, noise(p), [creds, key, type, wait, noiseH], body),
    );
  const clean = fc
    .tuple(
      cleanPath,
      fc.constantFrom(stack.a, stack.a, stack.a, stack.b),
      fc.option(fc.uuid(), { freq: 3 }),
      bodyText(valid, deepPaths),
    )
    .map(([p, who, key, body]) =>
      request(
        "POST",
        p,
        [
          [
            ["API-KEY", who.api_key],
            ["API-SECRET", who.api_secret],
            ["Content-Type", "application/json"],
          ],
          key === null ? [] : [["Idempotency-Key", key]],
        ],
        body,
      ),
    );
  return fc.oneof(hostile, clean);
}

const { published_at: _ignored, ...ideaOpenBody } = DOCUMENT_IDEA_OPENED.data;

describe("the publisher API accepts exactly the valid requests, refuses each bad one with its code, and stores only what it accepts", () => {
  it("POST /api/v1/create_trading_signal", async () => {
    await assertEveryAnswer(
      port,
      publishRequests(fc.constant("/api/v1/create_trading_signal"), { ...DOCUMENT_TRADING_SIGNAL_BODY }),
      checkAgainstModel,
    );
    await expectAliveAndNothingExtraStored();
  }, 300_000);

  it("POST /api/v1/upload_resource", async () => {
    const valid = fc.constantFrom<Record<string, unknown>>(
      { resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT },
      { resource_id: 3, resource_dict: { Symbol: "X", Price: 1.5 } },
    );
    await assertEveryAnswer(
      port,
      valid.chain((v) =>
        publishRequests(fc.constant("/api/v1/upload_resource"), v, [
          ["resource_dict", "Retracement channels"],
          ["resource_dict", "Symbol"],
          ["resource_dict", "Note"],
        ]),
      ),
      checkAgainstModel,
    );
    await expectAliveAndNothingExtraStored();
  }, 300_000);

  it("POST /api/v1/ideas/:channel/(open|update|close)", async () => {
    const path = fc
      .tuple(
        pathSegment(["a-ideas", "b-ideas", "no-such-channel"]),
        fc.constantFrom("open", "update", "close", "OPEN", "reopen"),
      )
      .map(([channel, action]) => `/api/v1/ideas/${channel}/${action}`);
    await assertEveryAnswer(
      port,
      publishRequests(
        path,
        ideaOpenBody as Record<string, unknown>,
        [["idea"], ["idea", "author"], ["comment"]],
        fc
          .tuple(fc.constantFrom("a-ideas", "b-ideas"), fc.constantFrom("open", "update", "close"))
          .map(([channel, action]) => `/api/v1/ideas/${channel}/${action}`),
      ),
      checkAgainstModel,
    );
    await expectAliveAndNothingExtraStored();
  }, 300_000);

  it("GET /api/v1/publishes/:ingest_id", async () => {
    const path = pathSegment(["ing_00000000000000000000000000000000", "ing_x"]).map((s) => `/api/v1/publishes/${s}`);
    const requests = fc
      .tuple(path, pathNoise, publisherCredentials(), noiseHeaders)
      .map(([p, noise, creds, noiseH]) => request("GET", noise(p), [creds, noiseH]));
    await assertEveryAnswer(port, requests, checkAgainstModel);
    await expectAliveAndNothingExtraStored();
  }, 300_000);
});

/** The admin API: every route, its auth header, path ids and bodies. */
interface AdminRoute {
  method: string;
  path: (segment: string) => string;
  segments?: string[];
  valid?: Record<string, unknown>;
}

const ADMIN_ROUTES: AdminRoute[] = [
  { method: "POST", path: () => "/admin/v1/publishers", valid: { name: "Hostile made", id: "made-1" } },
  { method: "GET", path: () => "/admin/v1/publishers" },
  { method: "GET", path: (s) => `/admin/v1/publishers/${s}`, segments: ["hostile-a", "nobody"] },
  // Never the seeded publishers' ids: rotating their secrets would change what the other tests send.
  { method: "POST", path: (s) => `/admin/v1/publishers/${s}/rotate-secret`, segments: ["nobody", "made-1"] },
  { method: "POST", path: (s) => `/admin/v1/publishers/${s}/revoke`, segments: ["nobody", "made-1"] },
  { method: "DELETE", path: (s) => `/admin/v1/publishers/${s}`, segments: ["nobody", "made-1"] },
  {
    method: "POST",
    path: () => "/admin/v1/resources",
    valid: { publisher_id: "hostile-a", title: "Made", key_value_type_pairs: { Symbol: "STRING" }, id: 100 },
  },
  { method: "GET", path: () => "/admin/v1/resources" },
  {
    method: "GET",
    path: (s) => `/admin/v1/resources/${s}`,
    segments: ["1", "999", "-1", "1.5", "1e3", "0x1", "9007199254740993", "Infinity"],
  },
  { method: "POST", path: () => "/admin/v1/algorithms", valid: { publisher_id: "hostile-a", name: "Made", id: 100 } },
  { method: "GET", path: () => "/admin/v1/algorithms" },
  {
    method: "GET",
    path: (s) => `/admin/v1/algorithms/${s}`,
    segments: ["1", "999", "-1", "1.5", "1e3", "0x1", "9007199254740993"],
  },
  {
    method: "POST",
    path: () => "/admin/v1/subscribers",
    valid: { name: "Made", id: "made-sub", streams: ["algorithm-1"] },
  },
  { method: "GET", path: () => "/admin/v1/subscribers" },
  { method: "GET", path: (s) => `/admin/v1/subscribers/${s}`, segments: ["hostile-sub", "nobody"] },
  // Never the seeded subscribers: their tokens are what the stream gateway's properties send.
  { method: "POST", path: (s) => `/admin/v1/subscribers/${s}/rotate-token`, segments: ["made-sub", "nobody"] },
  { method: "POST", path: (s) => `/admin/v1/subscribers/${s}/revoke`, segments: ["made-sub", "nobody"] },
  { method: "DELETE", path: (s) => `/admin/v1/subscribers/${s}`, segments: ["made-sub", "nobody"] },
  {
    method: "PUT",
    path: (s) => `/admin/v1/subscribers/${s}/streams`,
    segments: ["made-sub", "nobody"],
    valid: { streams: ["algorithm-1", "resource-1"] },
  },
  {
    method: "POST",
    path: () => "/admin/v1/channels",
    valid: { id: "made-ideas", title: "Made", publisher_id: "hostile-a" },
  },
  { method: "GET", path: () => "/admin/v1/channels" },
  { method: "GET", path: (s) => `/admin/v1/channels/${s}`, segments: ["a-ideas", "nobody"] },
  {
    method: "POST",
    path: () => "/admin/v1/webhooks",
    // The hostile stack allows no private targets: a well-formed create is refused (422) or, for
    // a subscriber without the stream, 403; never a 5xx.
    valid: { subscriber_id: "hostile-sub", stream_id: "algorithm-1", url: "http://127.0.0.1:9/hook", id: "made-wh" },
  },
  { method: "GET", path: () => "/admin/v1/webhooks" },
  { method: "GET", path: (s) => `/admin/v1/webhooks/${s}`, segments: ["made-wh", "nobody"] },
  { method: "GET", path: (s) => `/admin/v1/webhooks/${s}/attempts`, segments: ["made-wh", "nobody"] },
  { method: "POST", path: (s) => `/admin/v1/webhooks/${s}/pause`, segments: ["made-wh", "nobody"] },
  { method: "POST", path: (s) => `/admin/v1/webhooks/${s}/resume`, segments: ["made-wh", "nobody"] },
  {
    method: "POST",
    path: (s) => `/admin/v1/webhooks/${s}/replay`,
    segments: ["made-wh", "nobody"],
    valid: { from: 0 },
  },
  {
    method: "POST",
    path: (s) => `/admin/v1/webhooks/${s}/rotate-secret`,
    segments: ["made-wh", "nobody"],
    valid: { grace_seconds: 60 },
  },
  { method: "DELETE", path: (s) => `/admin/v1/webhooks/${s}`, segments: ["made-wh", "nobody"] },
  { method: "GET", path: () => "/admin/v1/halts" },
  { method: "GET", path: (s) => `/admin/v1/streams/${s}/halt`, segments: ["algorithm-1", "ideas-a-ideas"] },
  {
    method: "POST",
    path: (s) => `/admin/v1/streams/${s}/resolve`,
    segments: ["algorithm-1", "ideas-a-ideas"],
    valid: { action: "skip" },
  },
  { method: "GET", path: (s) => `/admin/v1/streams/${s}/parked`, segments: ["algorithm-1", "ideas-a-ideas"] },
  { method: "GET", path: (s) => `/admin/v1/streams/${s}`, segments: ["algorithm-1", "resource-1", "no-such-stream"] },
];

describe("the admin API refuses malformed and unauthorised requests with their codes, and accepts only well-formed ones", () => {
  for (const route of ADMIN_ROUTES) {
    it(`${route.method} ${route.path(":id")}`, async () => {
      const auth = headerSet(
        "Authorization",
        fc.oneof(
          { weight: 6, arbitrary: fc.constant(`Bearer ${stack.adminToken}`) },
          {
            weight: 2,
            arbitrary: headerValue([
              `Bearer ${stack.adminToken}`,
              "Bearer wrong-token-0123456789",
              "Basic YTpi",
              "Bearer",
            ]),
          },
        ),
      );
      const requests = fc
        .tuple(
          fc.oneof(
            { weight: 12, arbitrary: fc.constant(route.method) },
            // DELETE only through the routes above: on a GET route's path it could delete a seeded tenant.
            { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "PATCH") },
          ),
          pathSegment(route.segments ?? ["x"]),
          pathNoise,
          auth,
          route.valid ? contentTypes : fc.constant([] as [string, string][]),
          noiseHeaders,
          route.valid ? bodyText(route.valid) : fc.option(bodyText({ x: 1 }), { freq: 4 }),
        )
        .map(([method, segment, noise, a, type, noiseH, body]) =>
          request(method, noise(route.path(segment)), [a, type, noiseH], body ?? undefined),
        );
      await assertEveryAnswer(adminPort, requests, (req, res) => {
        const problem = expectationProblem(res, adminModel.expect(req));
        if (problem) throw new Error(problem);
      });
      await expectAliveAndNothingExtraStored();
    }, 300_000);
  }
});
