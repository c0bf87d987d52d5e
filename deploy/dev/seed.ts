import { type AdminMethod, adminRequest } from "@heliograph/admin-client";
import {
  algorithmStreamId,
  ideasStreamId,
  type PublisherCredentials,
  resourceStreamId,
  type SubscriberCredentials,
} from "@heliograph/contracts";
import { DOCUMENT_RESOURCE_1 } from "@heliograph/contracts/fixtures";

export const DEMO_PUBLISHER_ID = "demo-publisher";
export const DEMO_SUBSCRIBER_ID = "demo-subscriber";
export const DEMO_ALGORITHM_ID = 1;
export const DEMO_IDEA_CHANNEL = "demo";

/** `.heliograph/dev.json`: what a developer (or a script) needs to talk to the local stack. */
export interface DevConfig {
  ingest_url: string;
  /** The admin API: the ingest gateway's admin listener, on loopback. */
  admin_url: string;
  stream_url: string;
  admin_token: string;
  publisher: { id: string; api_key: string; api_secret: string };
  subscriber: { id: string; token: string };
  resource_id: number;
  algorithm_id: number;
  idea_channel: string;
  streams: { resource: string; algorithm: string; ideas: string };
  /** `pnpm dev`'s demo webhook endpoint (algorithm stream → its local receiver); absent elsewhere. */
  webhook?: { id: string; url: string; secret: string };
}

/**
 * Seeds the demo tenant through the admin API (into the control-plane bucket in NATS KV, which
 * lives in the NATS data folder): resource 1 exactly as in the resources document, algorithm 1,
 * idea channel "demo", and a subscriber entitled to the three streams. Idempotent: what exists is
 * kept, and credentials from an earlier run are reused while they still work.
 */
export async function seedDemoTenant(
  /** The running stack (a testkit `Stack` fits): its public URLs and its admin API. */
  stack: { ingest: { url: string }; stream: { url: string }; admin: { url: string; token: string } },
  previous: Partial<DevConfig> = {},
): Promise<DevConfig> {
  const ingestUrl = stack.ingest.url;
  const streamUrl = stack.stream.url;
  const { url: adminUrl, token: adminToken } = stack.admin;
  // Answers whatever their status: seeding decides on 404 (create) and 201 itself.
  const call = <T>(method: AdminMethod, path: string, body?: unknown) =>
    adminRequest<T>({ url: adminUrl, token: adminToken }, method, path, body);

  let publisher = previous.publisher;
  const existingPublisher = await call("GET", `/publishers/${DEMO_PUBLISHER_ID}`);
  if (existingPublisher.status === 404) {
    const created = await call<PublisherCredentials>("POST", "/publishers", {
      id: DEMO_PUBLISHER_ID,
      name: "Demo publisher",
    });
    if (created.status !== 201) throw new Error(`creating the demo publisher failed: ${JSON.stringify(created.body)}`);
    publisher = { id: created.body.id, api_key: created.body.api_key, api_secret: created.body.api_secret };
  } else if (!publisher || (existingPublisher.body as { api_key?: string }).api_key !== publisher.api_key) {
    // The data survived but the secret was not kept: issue a new one.
    const rotated = await call<PublisherCredentials>("POST", `/publishers/${DEMO_PUBLISHER_ID}/rotate-secret`);
    publisher = { id: rotated.body.id, api_key: rotated.body.api_key, api_secret: rotated.body.api_secret };
  }

  if ((await call("GET", `/resources/${DOCUMENT_RESOURCE_1.id}`)).status === 404) {
    const r = await call("POST", "/resources", { ...DOCUMENT_RESOURCE_1, publisher_id: DEMO_PUBLISHER_ID });
    if (r.status !== 201) throw new Error(`creating resource 1 failed: ${JSON.stringify(r.body)}`);
  }
  if ((await call("GET", `/algorithms/${DEMO_ALGORITHM_ID}`)).status === 404) {
    const r = await call("POST", "/algorithms", {
      id: DEMO_ALGORITHM_ID,
      name: "Demo algorithm",
      publisher_id: DEMO_PUBLISHER_ID,
    });
    if (r.status !== 201) throw new Error(`creating algorithm 1 failed: ${JSON.stringify(r.body)}`);
  }

  if ((await call("GET", `/channels/${DEMO_IDEA_CHANNEL}`)).status === 404) {
    const r = await call("POST", "/channels", {
      id: DEMO_IDEA_CHANNEL,
      title: "Demo trade ideas",
      publisher_id: DEMO_PUBLISHER_ID,
    });
    if (r.status !== 201)
      throw new Error(`creating idea channel ${DEMO_IDEA_CHANNEL} failed: ${JSON.stringify(r.body)}`);
  }

  const streams = {
    resource: resourceStreamId(DOCUMENT_RESOURCE_1.id),
    algorithm: algorithmStreamId(DEMO_ALGORITHM_ID),
    ideas: ideasStreamId(DEMO_IDEA_CHANNEL),
  };
  let subscriber = previous.subscriber;
  const tokenWorks =
    subscriber &&
    (
      await fetch(`${streamUrl}/api/v1/stream/${streams.resource}/`, {
        headers: { authorization: `Bearer ${subscriber.token}` },
      })
    ).status === 200;
  if (!tokenWorks) {
    // Tokens are stored hashed: a lost or rotated-away one is replaced by a new token of the
    // demo subscriber (or the subscriber is created).
    const exists = (await call("GET", `/subscribers/${DEMO_SUBSCRIBER_ID}`)).status !== 404;
    const issued = exists
      ? await call<SubscriberCredentials>("POST", `/subscribers/${DEMO_SUBSCRIBER_ID}/rotate-token`)
      : await call<SubscriberCredentials>("POST", "/subscribers", {
          id: DEMO_SUBSCRIBER_ID,
          name: "Demo subscriber",
          streams: Object.values(streams),
        });
    if (issued.status !== (exists ? 200 : 201))
      throw new Error(`issuing the demo subscriber's token failed: ${JSON.stringify(issued.body)}`);
    subscriber = { id: issued.body.id, token: issued.body.token };
  }
  if (subscriber) await call("PUT", `/subscribers/${subscriber.id}/streams`, { streams: Object.values(streams) });
  if (!publisher || !subscriber) throw new Error("seeding did not produce credentials");

  return {
    ingest_url: ingestUrl,
    admin_url: adminUrl,
    stream_url: streamUrl,
    admin_token: adminToken,
    publisher,
    subscriber,
    resource_id: DOCUMENT_RESOURCE_1.id,
    algorithm_id: DEMO_ALGORITHM_ID,
    idea_channel: DEMO_IDEA_CHANNEL,
    streams,
  };
}
