import { ErrorBody } from "@heliograph/contracts";
import {
  DOCUMENT_IDEA_OPENED,
  DOCUMENT_RESOURCE_DICT,
  DOCUMENT_TRADING_SIGNAL_BODY,
} from "@heliograph/contracts/fixtures";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostileStack, startHostileStack } from "../hostile/hostile-stack.js";

// Promise 4: every endpoint × every kind of caller, with the status each cell must get; then the
// services' whole output (at LOG_LEVEL=trace) must hold no secret, token or admin token, right
// or wrong, that the requests carried.
let stack: HostileStack;
let urls: { ingest: string; admin: string; stream: string };
let aIngestId: string;

const WRONG_SECRET = "hgs_wrong_secret_0f9d8c7b6a5948372615";
const WRONG_TOKEN = "hgt_wrong_token_1a2b3c4d5e6f7a8b9c0d";
const WRONG_ADMIN = "hga_wrong_admin_token_9z8y7x6w5v4u3t2s";

beforeAll(async () => {
  stack = await startHostileStack({
    services: ["ingest-gateway", "sequencer", "stream-gateway"],
    env: { LOG_LEVEL: "trace" },
  });
  urls = {
    ingest: stack.services["ingest-gateway"]?.url as string,
    admin: stack.services["ingest-gateway"]?.adminUrl as string,
    stream: stack.services["stream-gateway"]?.url as string,
  };
  const res = await fetch(`${urls.ingest}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: { "API-KEY": stack.a.api_key, "API-SECRET": stack.a.api_secret, "content-type": "application/json" },
    body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
  });
  aIngestId = ((await res.json()) as { ingest_id: string }).ingest_id;
  await waitFor(async () => {
    const r = await fetch(`${urls.stream}/api/v1/stream/algorithm-1/-1/1`, {
      headers: { authorization: `Bearer ${stack.subscriber.token}`, "x-long-poll": "0" },
    });
    return ((await r.json()) as unknown[]).length === 1;
  });
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

type Caller = "none" | "wrongSecret" | "otherPublisher" | "otherSubscriber" | "admin" | "owner";
const CALLERS: Caller[] = ["none", "wrongSecret", "otherPublisher", "otherSubscriber", "admin", "owner"];

/** The headers each kind of caller sends, on each API. */
function headersOf(caller: Caller, api: "publisher" | "admin" | "subscriber"): Record<string, string> {
  const publisherOwner = { "API-KEY": stack.a.api_key, "API-SECRET": stack.a.api_secret };
  switch (caller) {
    case "none":
      return {};
    case "wrongSecret":
      if (api === "publisher") return { "API-KEY": stack.a.api_key, "API-SECRET": WRONG_SECRET };
      return { authorization: `Bearer ${api === "admin" ? WRONG_ADMIN : WRONG_TOKEN}` };
    case "otherPublisher":
      return { "API-KEY": stack.b.api_key, "API-SECRET": stack.b.api_secret };
    case "otherSubscriber":
      return { authorization: `Bearer ${stack.otherSubscriber.token}` };
    case "admin":
      return { authorization: `Bearer ${stack.adminToken}` };
    case "owner":
      if (api === "publisher") return publisherOwner;
      if (api === "admin") return { authorization: `Bearer ${stack.adminToken}` };
      return { authorization: `Bearer ${stack.subscriber.token}` };
  }
}

interface Row {
  name: string;
  api: "publisher" | "admin" | "subscriber";
  method: string;
  path: () => string;
  body?: () => unknown;
  /** Expected status per caller. */
  expect: Record<Caller, number | number[]>;
}

const { published_at: _p, ...ideaBody } = DOCUMENT_IDEA_OPENED.data;
const PUBLISH_DENIED = { none: 401, wrongSecret: 401, otherSubscriber: 401, admin: 401 };
const ADMIN_ONLY = (ok: number | number[]) => ({
  none: 401,
  wrongSecret: 401,
  otherPublisher: 401,
  otherSubscriber: 401,
  admin: ok,
  owner: ok,
});
const READ = { none: 401, wrongSecret: 401, otherPublisher: 401, otherSubscriber: 403, admin: 401, owner: 200 };

const ROWS: Row[] = [
  {
    name: "upload_resource to A's resource 1",
    api: "publisher",
    method: "POST",
    path: () => "/api/v1/upload_resource",
    body: () => ({ resource_id: 1, resource_dict: DOCUMENT_RESOURCE_DICT }),
    expect: { ...PUBLISH_DENIED, otherPublisher: 403, owner: 202 },
  },
  {
    name: "create_trading_signal for A's algorithm 1",
    api: "publisher",
    method: "POST",
    path: () => "/api/v1/create_trading_signal",
    body: () => DOCUMENT_TRADING_SIGNAL_BODY,
    expect: { ...PUBLISH_DENIED, otherPublisher: 403, owner: 202 },
  },
  {
    name: "open an idea in A's channel",
    api: "publisher",
    method: "POST",
    path: () => "/api/v1/ideas/a-ideas/open",
    body: () => ({ ...ideaBody, id: `idea${Date.now()}${Math.floor(Math.random() * 1e6)}` }),
    expect: { ...PUBLISH_DENIED, otherPublisher: 403, owner: [201, 202] },
  },
  {
    name: "status of A's publish",
    api: "publisher",
    method: "GET",
    path: () => `/api/v1/publishes/${aIngestId}`,
    // Another publisher's ingest id answers as unknown: it reveals nothing.
    expect: { ...PUBLISH_DENIED, otherPublisher: 404, owner: 200 },
  },
  { name: "list publishers", api: "admin", method: "GET", path: () => "/admin/v1/publishers", expect: ADMIN_ONLY(200) },
  {
    name: "read a publisher",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/publishers/hostile-a",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "create a publisher",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/publishers",
    body: () => ({ name: "Matrix" }),
    expect: ADMIN_ONLY(201),
  },
  {
    name: "rotate a throwaway publisher's secret",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/publishers/matrix-rotated/rotate-secret",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "revoke a throwaway publisher",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/publishers/matrix-gone/revoke",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "delete a throwaway publisher",
    api: "admin",
    method: "DELETE",
    path: () => "/admin/v1/publishers/matrix-gone",
    // The admin deletes it; the owner (the admin token too) finds it gone.
    expect: { ...ADMIN_ONLY(204), owner: 404 },
  },
  { name: "list resources", api: "admin", method: "GET", path: () => "/admin/v1/resources", expect: ADMIN_ONLY(200) },
  {
    name: "read a resource",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/resources/1",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "create a resource",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/resources",
    body: () => ({ publisher_id: "hostile-a", title: "Matrix", key_value_type_pairs: { X: "STRING" } }),
    expect: ADMIN_ONLY(201),
  },
  { name: "list algorithms", api: "admin", method: "GET", path: () => "/admin/v1/algorithms", expect: ADMIN_ONLY(200) },
  {
    name: "read an algorithm",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/algorithms/1",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "create an algorithm",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/algorithms",
    body: () => ({ publisher_id: "hostile-a", name: "Matrix" }),
    expect: ADMIN_ONLY(201),
  },
  {
    name: "list subscribers",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/subscribers",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "read a subscriber",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/subscribers/hostile-sub",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "rotate a throwaway subscriber's token",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/subscribers/matrix-sub/rotate-token",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "revoke a throwaway subscriber",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/subscribers/matrix-sub-gone/revoke",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "delete a throwaway subscriber",
    api: "admin",
    method: "DELETE",
    path: () => "/admin/v1/subscribers/matrix-sub-gone",
    expect: { ...ADMIN_ONLY(204), owner: 404 },
  },
  {
    name: "create a subscriber",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/subscribers",
    body: () => ({ name: "Matrix", streams: ["algorithm-1"] }),
    expect: ADMIN_ONLY(201),
  },
  {
    name: "set a throwaway subscriber's entitlements",
    api: "admin",
    method: "PUT",
    path: () => "/admin/v1/subscribers/matrix-sub/streams",
    body: () => ({ streams: ["algorithm-1"] }),
    expect: ADMIN_ONLY(200),
  },
  {
    name: "list idea channels",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/channels",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "read an idea channel",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/channels/a-ideas",
    expect: ADMIN_ONLY(200),
  },
  { name: "list halts", api: "admin", method: "GET", path: () => "/admin/v1/halts", expect: ADMIN_ONLY(200) },
  {
    name: "a stream's halt",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/streams/algorithm-1/halt",
    expect: ADMIN_ONLY([404, 409]),
  },
  {
    name: "resolve a stream's halt",
    api: "admin",
    method: "POST",
    path: () => "/admin/v1/streams/algorithm-1/resolve",
    body: () => ({ action: "skip" }),
    expect: ADMIN_ONLY(409),
  },
  {
    name: "a stream's parked publishes",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/streams/algorithm-1/parked",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "a stream's head and status",
    api: "admin",
    method: "GET",
    path: () => "/admin/v1/streams/algorithm-1",
    expect: ADMIN_ONLY(200),
  },
  {
    name: "read a stream",
    api: "subscriber",
    method: "GET",
    path: () => "/api/v1/stream/algorithm-1/-1/10",
    expect: READ,
  },
  {
    name: "the most recent ten",
    api: "subscriber",
    method: "GET",
    path: () => "/api/v1/stream/algorithm-1/",
    expect: READ,
  },
  {
    name: "open ideas of a channel",
    api: "subscriber",
    method: "GET",
    path: () => "/api/v1/ideas/a-ideas",
    expect: READ,
  },
  {
    name: "one idea of a channel",
    api: "subscriber",
    method: "GET",
    path: () => `/api/v1/ideas/a-ideas/${ideaBody.id}`,
    expect: { ...READ, owner: [200, 404] },
  },
];

describe("every endpoint × every caller gets the status of its cell", () => {
  beforeAll(async () => {
    // Throwaway targets of the rotate and entitlement rows, so the seeded tenants stay as they are.
    await stack.admin("POST", "/publishers", { id: "matrix-rotated", name: "Rotated" });
    await stack.admin("POST", "/subscribers", { id: "matrix-sub", name: "Sub", streams: [] });
    await stack.admin("POST", "/publishers", { id: "matrix-gone", name: "Gone" });
    await stack.admin("POST", "/subscribers", { id: "matrix-sub-gone", name: "Gone", streams: [] });
  });

  for (const row of ROWS) {
    it(row.name, async () => {
      const base = { subscriber: urls.stream, publisher: urls.ingest, admin: urls.admin }[row.api];
      const got: Record<string, number> = {};
      const problems: string[] = [];
      for (const caller of CALLERS) {
        const body = row.body?.();
        const res = await fetch(`${base}${row.path()}`, {
          method: row.method,
          headers: {
            ...headersOf(caller, row.api),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...(row.api === "subscriber" ? { "x-long-poll": "0" } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        got[caller] = res.status;
        const expected = [row.expect[caller]].flat();
        if (!expected.includes(res.status))
          problems.push(`${caller}: expected ${expected.join("|")}, got ${res.status} ${text.slice(0, 200)}`);
        if (res.status >= 400 && !ErrorBody.safeParse(JSON.parse(text)).success)
          problems.push(`${caller}: no error body`);
      }
      expect(problems, JSON.stringify(got)).toEqual([]);
    });
  }
});

describe("secrets never reach a log line", () => {
  it("no API secret, bearer token or admin token, valid or not, appears in any service's output", async () => {
    // A few more requests carrying secrets in odd places: malformed bodies, bad headers, rotations.
    const rotated = await stack.admin<{ api_secret: string }>("POST", "/publishers/matrix-rotated/rotate-secret");
    const noisy: [string, RequestInit][] = [
      [
        `${urls.ingest}/api/v1/create_trading_signal`,
        {
          method: "POST",
          headers: { "API-KEY": stack.a.api_key, "API-SECRET": stack.a.api_secret, "content-type": "application/json" },
          body: "{not json",
        },
      ],
      [
        `${urls.ingest}/api/v1/create_trading_signal`,
        {
          method: "POST",
          headers: { "API-KEY": stack.a.api_key, "API-SECRET": WRONG_SECRET, "content-type": "text/plain" },
          body: "x",
        },
      ],
      [
        `${urls.ingest}/api/v1/upload_resource`,
        {
          method: "POST",
          headers: {
            "API-KEY": stack.a.api_key,
            "API-SECRET": stack.a.api_secret,
            "content-type": "application/json",
            "Idempotency-Key": "bad key",
          },
          body: "{}",
        },
      ],
      [
        `${urls.ingest}/admin/v1/publishers`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${WRONG_ADMIN}`, "content-type": "application/json" },
          body: "[",
        },
      ],
      [
        `${urls.stream}/api/v1/stream/algorithm-1/x/y`,
        { headers: { authorization: `Bearer ${stack.subscriber.token}` } },
      ],
      [
        `${urls.stream}/api/v1/stream/algorithm-1/-1/10`,
        { headers: { authorization: `Bearer ${WRONG_TOKEN}`, "x-long-poll": "bad" } },
      ],
      [
        `${urls.stream}/api/v1/stream/algorithm-2/-1/10`,
        { headers: { authorization: `Bearer ${stack.subscriber.token}` } },
      ],
      [
        `${urls.ingest}/nowhere?api_secret=${stack.a.api_secret}`,
        { headers: { authorization: `Bearer ${stack.adminToken}` } },
      ],
    ];
    for (const [url, init] of noisy) await (await fetch(url, init)).text();

    const secrets: Record<string, string> = {
      "publisher A's secret": stack.a.api_secret,
      "publisher B's secret": stack.b.api_secret,
      "a rotated secret": rotated.api_secret,
      "a wrong secret": WRONG_SECRET,
      "the subscriber's token": stack.subscriber.token,
      "the other subscriber's token": stack.otherSubscriber.token,
      "a wrong token": WRONG_TOKEN,
      "the admin token": stack.adminToken,
      "a wrong admin token": WRONG_ADMIN,
    };
    const leaks: string[] = [];
    for (const [name, handle] of Object.entries(stack.services)) {
      const output = handle?.output() ?? "";
      expect(output.length, `${name} logged nothing at trace level`).toBeGreaterThan(0);
      for (const [what, secret] of Object.entries(secrets)) {
        const at = output.indexOf(secret);
        if (at >= 0) leaks.push(`${name} logged ${what}: …${output.slice(Math.max(0, at - 300), at + 60)}…`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it("nor does an API key (redacted by path like the secret)", async () => {
    const leaks = Object.entries(stack.services).flatMap(([name, handle]) =>
      [stack.a.api_key, stack.b.api_key]
        .filter((key) => handle?.output().includes(key))
        .map((key) => `${name} logged ${key}`),
    );
    expect(leaks).toEqual([]);
  });
});
