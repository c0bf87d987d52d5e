import type { AdminMethod } from "@heliograph/admin-client";
import {
  Algorithm,
  algorithmStreamId,
  IdeaChannel,
  ideasStreamId,
  Publisher,
  PublisherCredentials,
  Resource,
  resourceStreamId,
  Subscriber,
  SubscriberCredentials,
} from "@heliograph/contracts";
import type { Command, TenantKind } from "./args.js";
import type { CliIo } from "./cli.js";
import { readJsonObject } from "./json-input.js";
import {
  algorithmsTable,
  channelsTable,
  credentialDetails,
  fieldsOf,
  publishersTable,
  resourcesTable,
  subscribersTable,
} from "./render.js";

export type AdminCall = (method: AdminMethod, path: string, body?: unknown) => Promise<unknown>;
export type Show = (value: unknown, text: () => string) => string;

type TenantCommand = Extract<Command, { name: "list" | "show" | "create" | "entitle" | "credential" | "delete" }>;

/** Each kind's admin API path, record schema and table. */
interface Schema {
  parse(value: unknown): unknown;
  array(): { parse(value: unknown): unknown };
}
const KINDS: { [K in TenantKind]: { path: string; record: Schema; table: (rows: never[]) => string } } = {
  publisher: { path: "/publishers", record: Publisher, table: publishersTable },
  subscriber: { path: "/subscribers", record: Subscriber, table: subscribersTable },
  resource: { path: "/resources", record: Resource, table: resourcesTable },
  algorithm: { path: "/algorithms", record: Algorithm, table: algorithmsTable },
  channel: { path: "/channels", record: IdeaChannel, table: channelsTable },
};

/** The tenant commands over the admin API: list, show, create, entitle, rotate, revoke, delete. */
export async function tenant(command: TenantCommand, call: AdminCall, show: Show, io: CliIo): Promise<string> {
  if (command.name === "entitle") {
    const path = `/subscribers/${encodeURIComponent(command.id)}/streams`;
    const updated = Subscriber.parse(await call("PUT", path, { streams: command.streams }));
    return show(updated, () => credentialDetails(updated));
  }
  const kind = KINDS[command.kind];
  const one = (id: string) => `${kind.path}/${encodeURIComponent(id)}`;
  switch (command.name) {
    case "list": {
      const rows = kind.record.array().parse(await call("GET", kind.path)) as never[];
      return show(rows, () => kind.table(rows));
    }
    case "show": {
      const found = kind.record.parse(await call("GET", one(command.id))) as Record<string, unknown>;
      return show(found, () => fieldsOf(found));
    }
    case "create": {
      const body = command.pairsFile
        ? { ...command.body, key_value_type_pairs: await readJsonObject(command.pairsFile, "--pairs", io) }
        : command.body;
      const created = await call("POST", kind.path, body);
      if (command.kind === "publisher") {
        const creds = PublisherCredentials.parse(created);
        return show(creds, () => `${credentialDetails(creds)}\napi_secret: ${creds.api_secret}\n\n${SHOWN_ONCE}`);
      }
      if (command.kind === "subscriber") {
        const creds = SubscriberCredentials.parse(created);
        return show(creds, () => `${credentialDetails(creds)}\ntoken:      ${creds.token}\n\n${SHOWN_ONCE}`);
      }
      const record = kind.record.parse(created) as Record<string, unknown>;
      return show(record, () => fieldsOf(record));
    }
    case "credential":
      return credential(command, call, show);
    case "delete":
      await call("DELETE", one(command.id));
      return show(
        { deleted: command.id },
        () =>
          `Deleted ${command.kind} ${command.id}: publishes to it are refused; its stream ${streamOf(command)} stays readable.`,
      );
  }
}

const streamOf = ({ kind, id }: { kind: "resource" | "algorithm" | "channel"; id: string }) =>
  kind === "channel"
    ? ideasStreamId(id)
    : kind === "resource"
      ? resourceStreamId(Number(id))
      : algorithmStreamId(Number(id));

const SHOWN_ONCE = "Shown once: store it now.";

/** `publisher …` and `subscriber …`: rotate (new credentials shown once), revoke, delete. */
async function credential(
  command: Extract<Command, { name: "credential" }>,
  call: AdminCall,
  show: Show,
): Promise<string> {
  const { kind, action, id } = command;
  const path = `/${kind}s/${encodeURIComponent(id)}`;
  switch (action) {
    case "revoke": {
      const revoked = (kind === "publisher" ? Publisher : Subscriber).parse(await call("POST", `${path}/revoke`));
      return show(
        revoked,
        () =>
          `${credentialDetails(revoked)}\n\nRevoked: refused on every instance within a second. \`heliograph ${kind} rotate ${id}\` issues new credentials.`,
      );
    }
    case "rotate": {
      if (kind === "publisher") {
        const creds = PublisherCredentials.parse(await call("POST", `${path}/rotate-secret`));
        return show(
          creds,
          () =>
            `${credentialDetails(creds)}\napi_secret: ${creds.api_secret}\n\n${SHOWN_ONCE} The old key and secret are refused everywhere within a second.`,
        );
      }
      const creds = SubscriberCredentials.parse(await call("POST", `${path}/rotate-token`));
      return show(
        creds,
        () =>
          `${credentialDetails(creds)}\ntoken:      ${creds.token}\n\n${SHOWN_ONCE} The old token is refused everywhere within a second.`,
      );
    }
    case "delete":
      await call("DELETE", path);
      return show({ deleted: id }, () => `Deleted ${kind} ${id}.`);
  }
}
