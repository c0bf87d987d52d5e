import { ApiError, adminCall, type Fetch, UnreachableError } from "@heliograph/admin-client";
import { HeliographApiError, HeliographNetworkError } from "@heliograph/client";
import {
  newAdminToken,
  ParkedPublish,
  ResolveHaltAnswer,
  type ResolveHaltRequest,
  StreamHalt,
  StreamInfo,
} from "@heliograph/contracts";
import { type CliArgs, type Command, parseCliArgs, UsageError, usage } from "./args.js";
import { ConfigError, resolveConfig, resolvePublisherConfig, resolveSubscriberConfig } from "./config.js";
import { readJsonObject } from "./json-input.js";
import { publish } from "./publish.js";
import { haltDetails, haltsTable, parkedTable, streamDetails } from "./render.js";
import { EvictedError, replay } from "./replay.js";
import { tail } from "./tail.js";
import { type AdminCall, type Show, tenant } from "./tenants.js";
import { webhookCommand } from "./webhooks.js";

export interface CliIo {
  env: Record<string, string | undefined>;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  fetch?: Fetch;
  /** Ends `tail` (and any call under way) cleanly: main aborts it on Ctrl-C (SIGINT) and SIGTERM. */
  signal?: AbortSignal;
  /** Reads all of stdin, for `--data -` and `--file -` (default: process.stdin). */
  stdin?: () => Promise<string>;
  /** Whether stderr is a terminal: replay draws its progress bar only there. */
  stderrIsTTY?: boolean;
}

/** Runs one command line; resolves to the exit code (0 done, 1 refused or failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`heliograph: ${err.message}\n\n${err.help ?? usage()}\n`);
    return 2;
  }
  if (args.command.name === "help") {
    io.stdout(`${args.command.text}\n`);
    return 0;
  }
  if (args.command.name === "admin-token") {
    // Made here, never sent anywhere: the operator puts it in the gateway's ADMIN_TOKEN.
    io.stdout(`${newAdminToken()}\n`);
    return 0;
  }
  try {
    const output = await execute(args, io);
    if (output !== undefined) io.stdout(`${output}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ApiError || err instanceof HeliographApiError) {
      const details = err.details.map((d) => `\n  ${d.path}: ${d.message}`).join("");
      io.stderr(`heliograph: ${err.code}: ${err.message}${details}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.stderr(`heliograph: ${err.message}\n`);
      return 2;
    }
    if (
      err instanceof ConfigError ||
      err instanceof UnreachableError ||
      err instanceof HeliographNetworkError ||
      err instanceof EvictedError
    ) {
      io.stderr(`heliograph: ${err.message}\n`);
      return 1;
    }
    // Ctrl-C during a publish or the first read of tail/replay: stopped as asked.
    if (io.signal?.aborted) return 0;
    throw err;
  }
}

/** Runs a parsed command; resolves to what to print on stdout, or undefined when it printed as it went. */
async function execute(args: CliArgs, io: CliIo): Promise<string | undefined> {
  const { command, json } = args;
  switch (command.name) {
    case "tail":
      await tail(command, resolveSubscriberConfig(args, io.env, io.cwd), json, io);
      return undefined;
    case "replay":
      await replay(command, resolveSubscriberConfig(args, io.env, io.cwd), io);
      return undefined;
    case "publish-signal":
    case "publish-resource":
    case "publish-idea":
      return publish(command, resolvePublisherConfig(args, io.env, io.cwd), json, io);
  }
  const config = resolveConfig(args, io.env, io.cwd);
  const call: AdminCall = (method, path, body) => adminCall(config, method, path, body, io.fetch);
  const show: Show = (value, text) => (json ? JSON.stringify(value, null, 2) : text());
  return admin(command, call, show, io);
}

/** The operators' commands over the admin API. */
async function admin(command: Command, call: AdminCall, show: Show, io: CliIo): Promise<string> {
  const streamPath = (stream: string) => `/streams/${encodeURIComponent(stream)}`;

  switch (command.name) {
    case "list":
    case "show":
    case "create":
    case "entitle":
    case "credential":
    case "delete":
      return tenant(command, call, show, io);
    case "webhooks":
    case "webhook-create":
    case "webhook":
    case "webhook-replay":
      return webhookCommand(command, call, show);
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
        request.data = await readJsonObject(command.dataFile, "--data", io);
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
    default:
      throw new Error(`${command.name} is not an admin command`);
  }
}
