import { createHmac } from "node:crypto";
import { WEBHOOK_SECRET_PREFIX } from "@heliograph/contracts";

/**
 * The `webhook-signature` of a delivery, per Standard Webhooks: `v1,` and the base64 HMAC-SHA256
 * of `<id>.<timestamp>.<body>`, keyed with the secret's decoded bytes (the part after `whsec_`).
 */
export function webhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

/**
 * The signatures of a delivery with every secret in force (after a rotation, the old one until
 * its grace ends): Standard Webhooks' header lists them space-separated, and a receiver accepts
 * the delivery when any one verifies.
 */
export function webhookSignatures(
  endpoint: { secret: string; previous_secret?: string; previous_until?: string },
  id: string,
  timestamp: number,
  body: string,
): string {
  const secrets = [endpoint.secret];
  if (endpoint.previous_secret && endpoint.previous_until && Date.parse(endpoint.previous_until) > Date.now())
    secrets.push(endpoint.previous_secret);
  return secrets.map((secret) => webhookSignature(secret, id, timestamp, body)).join(" ");
}
