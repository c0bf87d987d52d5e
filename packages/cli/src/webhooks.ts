import { WebhookAttempt, WebhookEndpoint, WebhookEndpointCreated, WebhookEndpointDetail } from "@heliograph/contracts";
import type { Command } from "./args.js";
import { table } from "./render.js";
import type { AdminCall, Show } from "./tenants.js";

type WebhookCommand = Extract<Command, { name: "webhooks" | "webhook-create" | "webhook" | "webhook-replay" }>;

/** `webhooks` and `webhook …`: the admin API's webhook endpoints. */
export async function webhookCommand(command: WebhookCommand, call: AdminCall, show: Show): Promise<string> {
  switch (command.name) {
    case "webhooks": {
      const endpoints = WebhookEndpoint.array().parse(await call("GET", "/webhooks"));
      return show(endpoints, () => webhooksTable(endpoints));
    }
    case "webhook-create": {
      const created = WebhookEndpointCreated.parse(
        await call("POST", "/webhooks", {
          subscriber_id: command.subscriber,
          stream_id: command.stream,
          url: command.target,
          ...(command.from === undefined ? {} : { from: command.from }),
        }),
      );
      return show(
        created,
        () => `${webhookDetails(created)}\nsecret:     ${created.secret}\n\nShown once: give it to the receiver now.`,
      );
    }
    case "webhook-replay": {
      const replayed = WebhookEndpointDetail.parse(
        await call("POST", `${webhookPath(command.id)}/replay`, { from: command.from }),
      );
      return show(replayed, () => `${webhookDetails(replayed)}\n\nThe next event delivered is ${command.from}.`);
    }
    case "webhook":
      return endpointAction(command, call, show);
  }
}

async function endpointAction(
  command: Extract<Command, { name: "webhook" }>,
  call: AdminCall,
  show: Show,
): Promise<string> {
  const path = webhookPath(command.id);
  switch (command.action) {
    case "show":
    case "pause":
    case "resume": {
      const detail = WebhookEndpointDetail.parse(
        await (command.action === "show" ? call("GET", path) : call("POST", `${path}/${command.action}`)),
      );
      return show(detail, () => webhookDetails(detail));
    }
    case "rotate": {
      const rotated = WebhookEndpointCreated.parse(await call("POST", `${path}/rotate-secret`, {}));
      return show(
        rotated,
        () =>
          `${webhookDetails(rotated)}\nsecret:     ${rotated.secret}\n\nShown once: give it to the receiver. For a day deliveries are signed with the old secret too.`,
      );
    }
    case "attempts": {
      const attempts = WebhookAttempt.array().parse(await call("GET", `${path}/attempts`));
      return show(attempts, () => attemptsTable(attempts));
    }
    case "delete":
      await call("DELETE", path);
      return show({ deleted: command.id }, () => `Deleted webhook endpoint ${command.id}.`);
  }
}

const webhookPath = (id: string) => `/webhooks/${encodeURIComponent(id)}`;

function webhooksTable(endpoints: WebhookEndpoint[]): string {
  if (endpoints.length === 0) return "No webhook endpoints.";
  return table(
    ["ID", "SUBSCRIBER", "STREAM", "STATUS", "URL"],
    endpoints.map((e) => [e.id, e.subscriber_id, e.stream_id, e.status, e.url]),
  );
}

function webhookDetails(endpoint: WebhookEndpoint | WebhookEndpointDetail): string {
  return [
    `id:         ${endpoint.id}`,
    `subscriber: ${endpoint.subscriber_id}`,
    `stream:     ${endpoint.stream_id}`,
    `url:        ${endpoint.url}`,
    `status:     ${endpoint.status}`,
    ...("position" in endpoint ? [`position:   ${endpoint.position} (the last event delivered)`] : []),
    ...(endpoint.last_error === undefined ? [] : [`last error: ${endpoint.last_error}`]),
    `created_at: ${endpoint.created_at}`,
  ].join("\n");
}

function attemptsTable(attempts: WebhookAttempt[]): string {
  if (attempts.length === 0) return "No delivery attempts yet.";
  return table(
    ["AT", "EVENT", "STATUS", "LATENCY", "ERROR"],
    attempts.map((a) => [a.at, String(a.event_number), String(a.status ?? "-"), `${a.latency_ms} ms`, a.error ?? ""]),
  );
}
