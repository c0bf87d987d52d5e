import { parseArgs } from "node:util";
import { STREAM_ID_PATTERN } from "@heliograph/contracts";

/** What the command line asks for. */
export type Command =
  | { name: "help" }
  | { name: "halts" }
  | { name: "halt-show"; stream: string }
  | { name: "halt-skip"; stream: string; ingestId?: string }
  | { name: "halt-retry"; stream: string; ingestId?: string; dataFile?: string }
  | { name: "parked"; stream: string }
  | { name: "stream"; stream: string }
  | { name: "admin-token" }
  | { name: "publishers" }
  | { name: "subscribers" }
  | { name: "credential"; kind: "publisher" | "subscriber"; action: CredentialAction; id: string };

/** What an operator does to a publisher's key or a subscriber's token. */
export type CredentialAction = "show" | "rotate" | "revoke" | "delete";

export interface CliArgs {
  command: Command;
  /** `--url`: the admin API (the ingest gateway's admin listener). */
  url?: string;
  /** `--token`: the admin token. */
  token?: string;
  /** `--json`: print the API's answer as JSON instead of a table. */
  json: boolean;
  /** `--yes`: a deletion is meant (it cannot be undone). */
  yes: boolean;
}

/** A command line that cannot be run as written; exit code 2 with the usage. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const USAGE = `Usage: heliograph <command> [options]

Commands (operators; they call the admin API, the ingest gateway's admin listener):
  halts                                        halted streams: since, reason, offending ingest id, held count
  halt show <stream>                           one halt, with the offending event
  halt skip <stream> [--ingest-id X]           park the offending publish; the stream resumes
  halt retry <stream> [--ingest-id X] [--data fixed.json]
                                               number the offending publish again (with fixed data)
  parked <stream>                              publishes skipped on a stream
  stream <stream>                              a stream's head, status and held count
  publishers | subscribers                     list them (id, name, status, key or entitlements)
  publisher show|rotate|revoke <id>            rotate: a new API key and secret (shown once; the old
                                               ones are refused everywhere within a second); revoke:
                                               refuse the key until the next rotate
  publisher delete <id> --yes                  delete the publisher and its key (its streams stay)
  subscriber show|rotate|revoke <id>           the same for a subscriber's bearer token (held long
                                               polls of the old token end)
  subscriber delete <id> --yes                 delete the subscriber, its token and entitlements
  admin-token                                  print a new admin token for ADMIN_TOKEN (no call made)

Options:
  --url <url>        admin API URL        (default: $HELIOGRAPH_ADMIN_URL, then .heliograph/dev.json)
  --token <token>    admin token          (default: $HELIOGRAPH_ADMIN_TOKEN, then .heliograph/dev.json)
  --ingest-id <id>   resolve only if this is still the offending publish (else 409 HALT_CHANGED)
  --data <file>      with halt retry: a JSON object replacing the offending event's data
  --json             print the answer as JSON
  --yes              confirm a delete
  -h, --help         this text

Exit status: 0 done, 1 refused or failed (the error's code and message are printed), 2 usage.`;

/** Parses the arguments after `heliograph`; throws UsageError for anything it cannot run. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const base = { url: values.url, token: values.token, json: values.json ?? false, yes: values.yes ?? false };
  if (values.help || positionals.length === 0 || positionals[0] === "help") {
    return { ...base, command: { name: "help" } };
  }
  const [verb, ...rest] = positionals;
  const ingestId = values["ingest-id"];
  const dataFile = values.data;
  const only = (allowed: ("ingest-id" | "data")[]) => {
    if (ingestId !== undefined && !allowed.includes("ingest-id"))
      throw new UsageError(`--ingest-id is for halt skip and halt retry`);
    if (dataFile !== undefined && !allowed.includes("data")) throw new UsageError(`--data is for halt retry`);
  };
  const stream = (args: string[], what: string): string => {
    if (args.length === 0) throw new UsageError(`${what} needs a stream id`);
    if (args.length > 1) throw new UsageError(`${what} takes one stream id, got: ${args.join(" ")}`);
    const id = args[0] as string;
    if (!STREAM_ID_PATTERN.test(id))
      throw new UsageError(`"${id}" is not a stream id (^[a-z0-9][a-z0-9_-]{0,63}$, e.g. ideas-equities)`);
    return id;
  };

  switch (verb) {
    case "halts":
      only([]);
      if (rest.length > 0) throw new UsageError(`halts takes no arguments, got: ${rest.join(" ")}`);
      return { ...base, command: { name: "halts" } };
    case "halt": {
      const [action, ...args] = rest;
      if (action === "show") {
        only([]);
        return { ...base, command: { name: "halt-show", stream: stream(args, "halt show") } };
      }
      if (action === "skip") {
        only(["ingest-id"]);
        return { ...base, command: { name: "halt-skip", stream: stream(args, "halt skip"), ingestId } };
      }
      if (action === "retry") {
        only(["ingest-id", "data"]);
        return { ...base, command: { name: "halt-retry", stream: stream(args, "halt retry"), ingestId, dataFile } };
      }
      throw new UsageError(
        action === undefined ? "halt needs show, skip or retry" : `unknown halt action "${action}" (show, skip, retry)`,
      );
    }
    case "parked":
      only([]);
      return { ...base, command: { name: "parked", stream: stream(rest, "parked") } };
    case "stream":
      only([]);
      return { ...base, command: { name: "stream", stream: stream(rest, "stream") } };
    case "admin-token":
    case "publishers":
    case "subscribers":
      only([]);
      if (rest.length > 0) throw new UsageError(`${verb} takes no arguments, got: ${rest.join(" ")}`);
      return { ...base, command: { name: verb } };
    case "publisher":
    case "subscriber": {
      only([]);
      const [action, ...args] = rest;
      if (!CREDENTIAL_ACTIONS.includes(action as CredentialAction))
        throw new UsageError(
          action === undefined
            ? `${verb} needs show, rotate, revoke or delete`
            : `unknown ${verb} action "${action}" (show, rotate, revoke, delete)`,
        );
      if (args.length !== 1) throw new UsageError(`${verb} ${action} takes one ${verb} id`);
      const id = args[0] as string;
      if (!ENTITY_ID.test(id)) throw new UsageError(`"${id}" is not a ${verb} id (^[a-z0-9][a-z0-9_-]{0,63}$)`);
      if (action === "delete" && !base.yes)
        throw new UsageError(`${verb} delete cannot be undone: add --yes to delete ${id}`);
      return { ...base, command: { name: "credential", kind: verb, action: action as CredentialAction, id } };
    }
    default:
      throw new UsageError(`unknown command "${verb}"`);
  }
}

const CREDENTIAL_ACTIONS: CredentialAction[] = ["show", "rotate", "revoke", "delete"];
/** Publisher and subscriber ids as the admin API issues and accepts them. */
const ENTITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      "ingest-id": { type: "string" },
      data: { type: "string" },
      json: { type: "boolean" },
      yes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
