import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ApiError, adminCall, type Fetch, UnreachableError } from "@heliograph/admin-client";
import {
  newAdminToken,
  ParkedPublish,
  Publisher,
  PublisherCredentials,
  ResolveHaltAnswer,
  type ResolveHaltRequest,
  StreamHalt,
  StreamInfo,
  Subscriber,
  SubscriberCredentials,
} from "@heliograph/contracts";
import { type CliArgs, type Command, parseCliArgs, USAGE, UsageError } from "./args.js";
import { type CliConfig, ConfigError, resolveConfig } from "./config.js";
import {
  credentialDetails,
  haltDetails,
  haltsTable,
  parkedTable,
  publishersTable,
  streamDetails,
  subscribersTable,
} from "./render.js";

export interface CliIo {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  fetch?: Fetch;
}

/** Runs one command line; resolves to the exit code (0 done, 1 refused or failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`heliograph: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.command.name === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (args.command.name === "admin-token") {
    // Made here, never sent anywhere: the operator puts it in the gateway's ADMIN_TOKEN.
    io.stdout(`${newAdminToken()}\n`);
    return 0;
  }
  try {
    const config = resolveConfig(args, io.env, io.cwd);
    io.stdout(`${await execute(args.command, config, args.json, io)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ApiError) {
      const details = err.details.map((d) => `\n  ${d.path}: ${d.message}`).join("");
      io.stderr(`heliograph: ${err.code}: ${err.message}${details}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.stderr(`heliograph: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof UnreachableError) {
      io.stderr(`heliograph: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function execute(command: Command, config: CliConfig, json: boolean, io: CliIo): Promise<string> {
  const call = (method: "GET" | "POST" | "DELETE", path: string, body?: unknown) =>
    adminCall(config, method, path, body, io.fetch);
  const show = (value: unknown, text: () => string) => (json ? JSON.stringify(value, null, 2) : text());
  const streamPath = (stream: string) => `/streams/${encodeURIComponent(stream)}`;

  switch (command.name) {
    case "help":
    case "admin-token":
      return USAGE;
    case "publishers": {
      const publishers = Publisher.array().parse(await call("GET", "/publishers"));
      return show(publishers, () => publishersTable(publishers));
    }
    case "subscribers": {
      const subscribers = Subscriber.array().parse(await call("GET", "/subscribers"));
      return show(subscribers, () => subscribersTable(subscribers));
    }
    case "credential":
      return credential(command, call, show);
    case "halts": {
      const halts = StreamHalt.array().parse(await call("GET", "/halts"));
      return show(halts, () => haltsTable(halts));
    }
    case "halt-show": {
      const halt = StreamHalt.parse(await call("GET", `${streamPath(command.stream)}/halt`));
      return show(halt, () => haltDetails(halt));
    }
    case "halt-skip":
    case "halt-retry": {
      const request: ResolveHaltRequest = { action: command.name === "halt-skip" ? "skip" : "retry" };
      if (command.ingestId !== undefined) request.ingest_id = command.ingestId;
      if (command.name === "halt-retry" && command.dataFile !== undefined)
        request.data = await readData(resolve(io.cwd, command.dataFile));
      const resolved = ResolveHaltAnswer.parse(await call("POST", `${streamPath(command.stream)}/resolve`, request));
      return show(resolved, () =>
        resolved.action === "skip"
          ? `Skipped ${resolved.ingest_id} on ${resolved.stream_id}: it is parked (heliograph parked ${resolved.stream_id}); the stream resumes.`
          : `Retrying ${resolved.ingest_id} on ${resolved.stream_id}${request.data ? " with the fixed data" : ""}; the stream resumes.`,
      );
    }
    case "parked": {
      const parked = ParkedPublish.array().parse(await call("GET", `${streamPath(command.stream)}/parked`));
      return show(parked, () => parkedTable(command.stream, parked));
    }
    case "stream": {
      const info = StreamInfo.parse(await call("GET", streamPath(command.stream)));
      return show(info, () => streamDetails(info));
    }
  }
}

type CredentialCommand = Extract<Command, { name: "credential" }>;

/** `publisher …` and `subscriber …`: show, rotate (new credentials shown once), revoke, delete. */
async function credential(
  command: CredentialCommand,
  call: (method: "GET" | "POST" | "DELETE", path: string) => Promise<unknown>,
  show: (value: unknown, text: () => string) => string,
): Promise<string> {
  const { kind, action, id } = command;
  const path = `/${kind}s/${encodeURIComponent(id)}`;
  const record = kind === "publisher" ? Publisher : Subscriber;
  switch (action) {
    case "show": {
      const found = record.parse(await call("GET", path));
      return show(found, () => credentialDetails(found));
    }
    case "revoke": {
      const revoked = record.parse(await call("POST", `${path}/revoke`));
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
            `${credentialDetails(creds)}\napi_secret: ${creds.api_secret}\n\nShown once: store it now. The old key and secret are refused everywhere within a second.`,
        );
      }
      const creds = SubscriberCredentials.parse(await call("POST", `${path}/rotate-token`));
      return show(
        creds,
        () =>
          `${credentialDetails(creds)}\ntoken:      ${creds.token}\n\nShown once: store it now. The old token is refused everywhere within a second.`,
      );
    }
    case "delete":
      await call("DELETE", path);
      return show({ deleted: id }, () => `Deleted ${kind} ${id}.`);
  }
}

/** The `--data` file: a JSON object, the offending event's replacement data. */
async function readData(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --data ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--data ${file} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`--data ${file} must hold a JSON object (the event's data)`);
  return value as Record<string, unknown>;
}
