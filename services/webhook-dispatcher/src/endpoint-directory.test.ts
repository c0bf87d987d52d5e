import { connectNats, createLogger, type NatsConnection } from "@heliograph/platform";
import { controlKeys, openControlBucket, type StoredWebhookEndpoint } from "@heliograph/store";
import { type NatsServerHandle, startNatsServer, waitFor } from "@heliograph/testkit";
import type { KV } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EndpointDirectory } from "./endpoint-directory.js";

const log = createLogger({ name: "endpoint-directory-test", level: process.env.TEST_LOG_LEVEL ?? "error" });
let nats: NatsServerHandle;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  nats = await startNatsServer({ reuseEnv: false });
  nc = await connectNats(nats, log, "endpoint-directory-test");
  kv = await openControlBucket(nc, { replicas: 1 });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Only the fields the directory passes through matter here; the rest of a record is the control plane's. */
const endpoint = (id: string, status: "active" | "paused" = "active") =>
  ({ id, stream_id: "algorithm-1", status }) as unknown as StoredWebhookEndpoint;
const put = (e: StoredWebhookEndpoint) => kv.put(controlKeys.webhook(e.id), JSON.stringify(e));
const statuses = async (d: EndpointDirectory) =>
  Object.fromEntries((await d.endpoints()).map((e) => [e.id, e.status] as const));

describe("EndpointDirectory", () => {
  it("reads the bucket once, then follows registrations, pauses and deletes through its watch", async () => {
    await put(endpoint("wh-a"));
    await put(endpoint("wh-b"));
    // Not a webhook key: the directory never sees it.
    await kv.put("publisher.not-a-webhook", "{}");
    let changes = 0;
    const directory = new EndpointDirectory(kv, log, () => changes++);
    try {
      expect(await statuses(directory)).toEqual({ "wh-a": "active", "wh-b": "active" });

      await put(endpoint("wh-c"));
      await waitFor(() => changes >= 1, { what: "the registration reported" });
      await put(endpoint("wh-a", "paused"));
      await kv.delete(controlKeys.webhook("wh-b"));
      await waitFor(async () => (await directory.endpoints()).length === 2 && changes >= 3, {
        what: "the pause and the delete seen",
      });
      expect(await statuses(directory)).toEqual({ "wh-a": "paused", "wh-c": "active" });
      // Every change came through the watch: the bucket was listed once, however often it was asked.
      expect(directory.listings).toBe(1);
    } finally {
      directory.stop();
    }
  });
});
