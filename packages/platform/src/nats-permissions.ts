import {
  EVENTS_STREAM,
  EVENTS_SUBJECTS,
  INGEST_STREAM,
  INGEST_SUBJECTS,
  LEASE_FREED_SUBJECT,
  RESUME_SUBJECT,
  SEQUENCED_SUBJECT_PREFIX,
  VERIFY_SUBJECT_PREFIX,
} from "@heliograph/contracts";

/**
 * The NATS users of Heliograph, one per role, each allowed only what its code does
 * (docs/architecture.md, "NATS users"). The server's auth configuration is rendered from this one
 * definition ({@link renderNatsAuthConfig}) for tests, `pnpm dev` and deploy/.
 */
export const NATS_ROLES = [
  "ingest-gateway",
  "sequencer",
  "stream-gateway",
  "webhook-dispatcher",
  "downstream",
  "admin",
] as const;
export type NatsRole = (typeof NATS_ROLES)[number];

/** What a user may publish and subscribe to (nats-server's `permissions` block). */
export interface NatsPermissions {
  publish: { allow: string[]; deny?: string[] };
  subscribe: { allow: string[]; deny?: string[] };
}

/** The KV bucket of the control plane; contracts does not know about KV (store does). */
const CONTROL_BUCKET = "heliograph-control";
const CONTROL_STREAM = `KV_${CONTROL_BUCKET}`;
const CONTROL_SUBJECTS = `$KV.${CONTROL_BUCKET}.>`;
/** The webhook endpoint records of the control plane (`webhook.<id>` keys, packages/store control-bucket.ts). */
const WEBHOOK_CONTROL_SUBJECTS = `$KV.${CONTROL_BUCKET}.webhook.*`;

/**
 * Each role's replies (request answers, JetStream consumer deliveries, KV watches) arrive under
 * its own prefix, which only it may subscribe to: one role cannot read another's replies.
 */
export const natsInboxPrefix = (role: NatsRole): string => `_INBOX_${role.replace(/-/g, "_")}`;

/** The environment variable deploy/'s nats.conf reads a role's password from. */
export const natsPasswordVariable = (role: NatsRole): string =>
  `NATS_PASSWORD_${role.toUpperCase().replace(/-/g, "_")}`;

const api = "$JS.API";

/** Stream info, create and update: ensureStreams and openControlBucket run in every service at start. */
const ensureStream = (stream: string) => [
  `${api}.STREAM.INFO.${stream}`,
  `${api}.STREAM.CREATE.${stream}`,
  `${api}.STREAM.UPDATE.${stream}`,
];

/**
 * Reading a stream: its info, one message by sequence or last-by-subject (MSG.GET and direct get),
 * and consumers of it (ephemeral, ordered or durable: create, info, delete, pull, acks, and flow
 * control of push consumers, which KV watches are).
 */
const readStream = (stream: string) => [
  `${api}.STREAM.INFO.${stream}`,
  `${api}.STREAM.MSG.GET.${stream}`,
  `${api}.DIRECT.GET.${stream}`,
  `${api}.DIRECT.GET.${stream}.>`,
  `${api}.CONSUMER.CREATE.${stream}`,
  `${api}.CONSUMER.CREATE.${stream}.>`,
  `${api}.CONSUMER.DURABLE.CREATE.${stream}.*`,
  `${api}.CONSUMER.INFO.${stream}.*`,
  `${api}.CONSUMER.DELETE.${stream}.*`,
  `${api}.CONSUMER.MSG.NEXT.${stream}.*`,
  `$JS.ACK.${stream}.>`,
  `$JS.FC.${stream}.>`,
];

/**
 * An ordered consumer of a stream and nothing more: create one (ephemeral, filtered), pull from it,
 * see and delete it. No durable consumers, no acks: it changes nothing in the stream.
 */
const orderedRead = (stream: string) => [
  `${api}.CONSUMER.CREATE.${stream}.>`,
  `${api}.CONSUMER.INFO.${stream}.*`,
  `${api}.CONSUMER.DELETE.${stream}.*`,
  `${api}.CONSUMER.MSG.NEXT.${stream}.*`,
];

/** Account info: jetstreamManager() asks it first, to see JetStream is there. */
const ACCOUNT_INFO = `${api}.INFO`;

/** What every service publishes at start: ensureStreams (INGEST and EVENTS) after the account info. */
const AT_START = [ACCOUNT_INFO, ...ensureStream(INGEST_STREAM), ...ensureStream(EVENTS_STREAM)];
/** The same for a service that also opens the control-plane bucket (openControlBucket). */
const AT_START_WITH_CONTROL = [...AT_START, ...ensureStream(CONTROL_STREAM)];

const own = (role: NatsRole, subscribe: string[]) => [...subscribe, `${natsInboxPrefix(role)}.>`];
const unique = (subjects: string[]) => [...new Set(subjects)];

/** Every role's permissions. Admin may do anything (operators, tests' direct connections). */
export const NATS_PERMISSIONS: Record<NatsRole, NatsPermissions> = {
  "ingest-gateway": {
    publish: {
      allow: unique([
        INGEST_SUBJECTS,
        // The admin API writes the control plane and announces resolutions to the sequencers.
        CONTROL_SUBJECTS,
        RESUME_SUBJECT,
        ...AT_START_WITH_CONTROL,
        ...readStream(CONTROL_STREAM),
        // The admin API's live tail of a stream, and each partition's lag (its sequencer consumer's info).
        ...orderedRead(EVENTS_STREAM),
        `${api}.CONSUMER.INFO.${INGEST_STREAM}.*`,
      ]),
    },
    subscribe: { allow: own("ingest-gateway", [`${SEQUENCED_SUBJECT_PREFIX}.>`]) },
  },
  sequencer: {
    publish: {
      allow: unique([
        EVENTS_SUBJECTS,
        `${SEQUENCED_SUBJECT_PREFIX}.*`,
        LEASE_FREED_SUBJECT,
        ...AT_START,
        ...readStream(INGEST_STREAM),
        ...readStream(EVENTS_STREAM),
      ]),
    },
    subscribe: { allow: own("sequencer", [RESUME_SUBJECT, `${VERIFY_SUBJECT_PREFIX}.*`, LEASE_FREED_SUBJECT]) },
  },
  "stream-gateway": {
    publish: {
      allow: unique([
        `${VERIFY_SUBJECT_PREFIX}.*`,
        ...AT_START_WITH_CONTROL,
        ...readStream(EVENTS_STREAM),
        ...readStream(CONTROL_STREAM),
      ]),
    },
    subscribe: { allow: own("stream-gateway", []) },
  },
  // Reads EVENTS and the control plane (its subscribers' webhook endpoints), is woken by the
  // sequencers' notices, and writes only webhook endpoint records (a pause when retries run out).
  "webhook-dispatcher": {
    publish: {
      allow: unique([
        WEBHOOK_CONTROL_SUBJECTS,
        ...AT_START_WITH_CONTROL,
        ...readStream(EVENTS_STREAM),
        ...readStream(CONTROL_STREAM),
      ]),
    },
    subscribe: { allow: own("webhook-dispatcher", [`${SEQUENCED_SUBJECT_PREFIX}.>`]) },
  },
  downstream: {
    publish: { allow: [ACCOUNT_INFO, ...readStream(EVENTS_STREAM)] },
    subscribe: { allow: own("downstream", []) },
  },
  admin: {
    publish: { allow: [">"] },
    subscribe: { allow: [">"] },
  },
};

/** A role's password: the value itself (tests, `pnpm dev`) or a nats.conf variable reference (deploy/). */
export type NatsPasswords = Record<NatsRole, string> | "environment";

/**
 * The `authorization` block of nats-server's configuration, rendered from {@link NATS_PERMISSIONS}.
 * With `"environment"` each password is `$NATS_PASSWORD_<ROLE>`, which nats-server resolves from
 * its environment, so secrets stay out of the file.
 *
 * One authorization block (users of the global account), not accounts: every role works on the
 * same streams, which accounts would separate (needing exports and imports for each), and
 * JetStream's data stays in the global account where a server without auth kept it.
 */
export function renderNatsAuthConfig(passwords: NatsPasswords): string {
  const quote = (s: string) => JSON.stringify(s);
  const list = (subjects: string[], indent: string) =>
    `[\n${subjects.map((s) => `${indent}  ${quote(s)}`).join("\n")}\n${indent}]`;
  const side = (name: string, p: { allow: string[]; deny?: string[] }, indent: string) => {
    const lines = [`${indent}${name}: {`, `${indent}  allow: ${list(p.allow, `${indent}  `)}`];
    if (p.deny?.length) lines.push(`${indent}  deny: ${list(p.deny, `${indent}  `)}`);
    lines.push(`${indent}}`);
    return lines.join("\n");
  };
  const users = NATS_ROLES.map((role) => {
    const password = passwords === "environment" ? `$${natsPasswordVariable(role)}` : quote(passwords[role]);
    const p = NATS_PERMISSIONS[role];
    return [
      "    {",
      `      user: ${quote(role)}`,
      `      password: ${password}`,
      "      permissions: {",
      side("publish", p.publish, "        "),
      side("subscribe", p.subscribe, "        "),
      "      }",
      "    }",
    ].join("\n");
  });
  return [
    "# Rendered by renderNatsAuthConfig (packages/platform/src/nats-permissions.ts): change it there.",
    "authorization {",
    "  users: [",
    users.join("\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}

/** How a process connects to NATS as a role (connectNats's `credentials`). */
export interface NatsCredentials {
  user: string;
  password: string;
  /** The role's reply prefix; default `_INBOX`, which only admin may subscribe to. */
  inboxPrefix?: string;
}

/** A role's credentials with its inbox prefix. */
export const natsCredentials = (role: NatsRole, password: string): NatsCredentials => ({
  user: role,
  password,
  inboxPrefix: role === "admin" ? undefined : natsInboxPrefix(role),
});
