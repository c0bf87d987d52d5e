import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ApiError, adminCall, type Fetch, UnreachableError } from "@heliograph/admin-client";
import {
  ParkedPublish,
  ResolveHaltAnswer,
  type ResolveHaltRequest,
  StreamHalt,
  StreamInfo,
} from "@heliograph/contracts";
import { type CliArgs, type Command, parseCliArgs, USAGE, UsageError } from "./args.js";
import { type CliConfig, ConfigError, resolveConfig } from "./config.js";
import { haltDetails, haltsTable, parkedTable, streamDetails } from "./render.js";

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
  const call = (method: "GET" | "POST", path: string, body?: unknown) =>
    adminCall(config, method, path, body, io.fetch);
  const show = (value: unknown, text: () => string) => (json ? JSON.stringify(value, null, 2) : text());
  const streamPath = (stream: string) => `/streams/${encodeURIComponent(stream)}`;

  switch (command.name) {
    case "help":
      return USAGE;
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
