/**
 * `pnpm dev`'s demo webhook receiver: a local HTTP server that verifies each delivery with the
 * `standardwebhooks` package, as a subscriber's receiver would, and prints one line per event;
 * plus the demo endpoint that points the algorithm stream at it.
 */
import { createServer, type Server } from "node:http";
import { type AdminMethod, adminRequest } from "@heliograph/admin-client";
import type { WebhookEndpointCreated, WebhookEndpointDetail } from "@heliograph/contracts";
import { Webhook } from "standardwebhooks";

export interface DemoWebhook {
  id: string;
  url: string;
  /** The endpoint's signing secret (shown once by the admin API, so kept in dev.json). */
  secret: string;
}

const DEMO_WEBHOOK_ID = "demo-receiver";

/**
 * The demo endpoint: the previous run's when it still points at `url` and its secret is known,
 * else a new one (a secret cannot be read back). New endpoints start with the stream's next event.
 */
export async function seedDemoWebhook(
  admin: { url: string; token: string },
  subscriber: { id: string },
  streamId: string,
  url: string,
  previous: DemoWebhook | undefined,
): Promise<DemoWebhook> {
  const call = <T>(method: AdminMethod, path: string, body?: unknown) => adminRequest<T>(admin, method, path, body);
  const existing = await call<WebhookEndpointDetail>("GET", `/webhooks/${DEMO_WEBHOOK_ID}`);
  if (existing.status === 200 && previous?.secret && existing.body.url === url) {
    if (existing.body.status === "paused") await call("POST", `/webhooks/${DEMO_WEBHOOK_ID}/resume`);
    return previous;
  }
  if (existing.status === 200) await call("DELETE", `/webhooks/${DEMO_WEBHOOK_ID}`);
  const created = await call<WebhookEndpointCreated>("POST", "/webhooks", {
    id: DEMO_WEBHOOK_ID,
    subscriber_id: subscriber.id,
    stream_id: streamId,
    url,
  });
  if (created.status !== 201) throw new Error(`creating the demo webhook failed: ${JSON.stringify(created.body)}`);
  return { id: created.body.id, url, secret: created.body.secret };
}

/** Starts the receiver on 127.0.0.1:`port`; `secret()` is read per delivery (seeding comes after). */
export async function startDemoReceiver(port: number, secret: () => string | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const key = secret();
      let verdict = "no secret yet";
      if (key) {
        try {
          new Webhook(key).verify(body, req.headers as Record<string, string>);
          verdict = "signature ok";
        } catch (err) {
          verdict = `signature REFUSED (${(err as Error).message})`;
        }
      }
      const type = /"event_type":"([^"]+)"/.exec(body)?.[1] ?? "?";
      console.log(`webhook receiver: ${req.headers["webhook-id"]} ${type}, ${verdict}`);
      res.statusCode = verdict === "signature ok" ? 204 : 400;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}
