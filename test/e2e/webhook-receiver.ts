// A subscriber's webhook receiver for tests: a real HTTP server that records every delivery,
// verifies it with the endpoint's signing secret through the `standardwebhooks` package (as a
// subscriber's code would), and answers what the test says.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WEBHOOK_ID_HEADER } from "@heliograph/contracts";
import { Webhook } from "standardwebhooks";

/** One delivery as the receiver got it. */
export interface WebhookDelivery {
  /** Its `webhook-id` (`<stream_id>:<n>`). */
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether it verified with `secret` as it was when the delivery came. */
  verified: boolean;
}

export class WebhookReceiver {
  readonly deliveries: WebhookDelivery[] = [];
  /** The endpoint's signing secret, once registered. */
  secret = "";
  /** The status a delivery is answered with; may wait first (a slow receiver, a gate). */
  answer: (delivery: WebhookDelivery) => number | Promise<number> = () => 204;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const r = self as WebhookReceiver;
        const body = Buffer.concat(chunks).toString("utf8");
        let verified = false;
        try {
          new Webhook(r.secret).verify(body, req.headers as Record<string, string>);
          verified = true;
        } catch {}
        const delivery = { id: String(req.headers[WEBHOOK_ID_HEADER]), headers: req.headers, body, verified };
        r.deliveries.push(delivery);
        res.statusCode = await r.answer(delivery);
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    self = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
    return self;
  }

  /** The webhook-id of every delivery, in arrival order. */
  ids(): string[] {
    return this.deliveries.map((d) => d.id);
  }

  /** The last delivery of one event (by its webhook-id), once it came. */
  delivery(webhookId: string): WebhookDelivery | undefined {
    return this.deliveries.findLast((d) => d.id === webhookId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
