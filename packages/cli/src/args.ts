import { STREAM_ID_PATTERN } from "@heliograph/contracts";
import { Argument, CommanderError, InvalidArgumentError, Option, Command as Program } from "commander";

/** The control-plane records the admin API creates and lists. */
export type TenantKind = "publisher" | "subscriber" | "resource" | "algorithm" | "channel";

/** What an operator does to a publisher's key or a subscriber's token. */
export type CredentialAction = "show" | "rotate" | "revoke" | "delete";

/** What an operator does to a webhook endpoint by its id. */
export type WebhookAction = "show" | "pause" | "resume" | "attempts" | "rotate" | "delete";

/** Where a publish waits for its number (`X-Heliograph-Wait`) and which key it is sent under. */
export interface PublishFlags {
  wait?: number;
  idempotencyKey?: string;
}

/** What the command line asks for. */
export type Command =
  | { name: "help"; text: string }
  | { name: "halts" }
  | { name: "halt-show"; stream: string }
  | { name: "halt-skip"; stream: string; ingestId?: string }
  | { name: "halt-retry"; stream: string; ingestId?: string; dataFile?: string }
  | { name: "parked"; stream: string }
  | { name: "stream"; stream: string }
  | { name: "admin-token" }
  | { name: "list"; kind: TenantKind }
  | { name: "show"; kind: TenantKind; id: string }
  | { name: "create"; kind: TenantKind; body: Record<string, unknown>; pairsFile?: string }
  | { name: "entitle"; id: string; streams: string[] }
  | { name: "credential"; kind: "publisher" | "subscriber"; action: Exclude<CredentialAction, "show">; id: string }
  | { name: "delete"; kind: "resource" | "algorithm" | "channel"; id: string }
  | { name: "webhooks" }
  | { name: "webhook-create"; subscriber: string; stream: string; target: string; from?: number }
  | { name: "webhook"; action: WebhookAction; id: string }
  | { name: "webhook-replay"; id: string; from: number }
  | { name: "tail"; stream: string; from?: number }
  | { name: "replay"; stream: string; from: number; to: number }
  | ({ name: "publish-signal"; fields: Record<string, unknown>; file?: string } & PublishFlags)
  | ({ name: "publish-resource"; resourceId: number; dataFile: string } & PublishFlags)
  | ({ name: "publish-idea"; action: "open" | "update" | "close"; channel: string; file: string } & PublishFlags);

/** Credentials of the publisher and subscriber commands, from flags (else env, else dev.json). */
export interface ClientFlags {
  streamUrl?: string;
  subscriberToken?: string;
  ingestUrl?: string;
  apiKey?: string;
  apiSecret?: string;
}

export interface CliArgs extends ClientFlags {
  command: Command;
  /** `--url`: the admin API (the ingest gateway's admin listener). */
  url?: string;
  /** `--token`: the admin token. */
  token?: string;
  /** `--json`: print the answer as JSON (events as JSON lines) instead of text. */
  json: boolean;
  /** `--yes`: a deletion is meant (it cannot be undone). */
  yes: boolean;
}

/** A command line that cannot be run as written; exit code 2 with the usage. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The help of the command it is about, when it is about one. */
  readonly help: string | undefined;

  constructor(message: string, help?: string) {
    super(message);
    this.help = help;
  }
}

const EXIT_STATUS = "Exit status: 0 done, 1 refused or failed (the error's code and message are printed), 2 usage.";

/** The top-level help text (`heliograph --help`). */
export function usage(): string {
  return commandTree().helpInformation().trimEnd();
}

/** The command tree alone (nothing is parsed or run): what `--help` describes, for walking it. */
export const commandTree = (): Program =>
  buildProgram(
    () => undefined,
    () => undefined,
  );

/**
 * Parses the arguments after `heliograph`; throws UsageError for anything it cannot run. `--help`
 * anywhere (and `help [command]`) gives the help command, carrying that command's help text.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let found: CliArgs | undefined;
  let out = "";
  const program = buildProgram(
    (command, options) => {
      found = { ...globals(options), command };
    },
    (text) => {
      out += text;
    },
  );
  if (argv.length === 0)
    return { ...globals({}), command: { name: "help", text: program.helpInformation().trimEnd() } };
  // The command a parse error is about: the last one dispatched to, whose help is shown with it.
  let reached = program;
  const track = (cmd: Program) => {
    cmd.hook("preSubcommand", (_, sub) => {
      reached = sub;
    });
    cmd.commands.forEach(track);
  };
  track(program);
  try {
    program.parse([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(err.message, err.help ?? reached.helpInformation().trimEnd());
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === "commander.helpDisplayed" || (err.code === "commander.help" && err.exitCode === 0))
      return { ...globals(program.opts()), command: { name: "help", text: out.trimEnd() } };
    const help = reached.helpInformation().trimEnd();
    if (err.code === "commander.help")
      throw new UsageError(`${reached.name()} needs one of: ${reached.commands.map((c) => c.name()).join(", ")}`, help);
    throw new UsageError(err.message.replace(/^error: /, ""), help);
  }
  if (!found) throw new UsageError("nothing to run", program.helpInformation().trimEnd());
  return found;
}

function globals(options: Record<string, unknown>): Omit<CliArgs, "command"> {
  const text = (key: string) => (typeof options[key] === "string" ? (options[key] as string) : undefined);
  return {
    url: text("url"),
    token: text("token"),
    json: options.json === true,
    yes: options.yes === true,
    streamUrl: text("streamUrl"),
    subscriberToken: text("subscriberToken"),
    ingestUrl: text("ingestUrl"),
    apiKey: text("apiKey"),
    apiSecret: text("apiSecret"),
  };
}

type Found = (command: Command, options: Record<string, unknown>) => void;

/** Every command, flag and help text of `heliograph`; `found` receives what a parse asks for. */
function buildProgram(found: Found, write: (text: string) => void): Program {
  const program = new Program("heliograph")
    .description(
      "Heliograph from the command line: follow, publish and replay streams (publisher and subscriber APIs, through @heliograph/client), and operate the platform (admin API).",
    )
    .exitOverride()
    // Set before any subcommand is added: each copies it when created.
    .configureOutput({ writeOut: write, writeErr: write, outputError: () => undefined })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .option("--url <url>", "admin API URL (default: $HELIOGRAPH_ADMIN_URL, then .heliograph/dev.json)")
    .option("--token <token>", "admin token (default: $HELIOGRAPH_ADMIN_TOKEN, then .heliograph/dev.json)")
    .option("--json", "print the answer as JSON (tail: one JSON object per line)")
    .addHelpText("after", `\n${EXIT_STATUS}`);
  /** The action of a command: `build` makes its Command from the parsed arguments and options. */
  const act =
    (build: (args: string[], options: Record<string, unknown>) => Command) =>
    (...params: unknown[]) => {
      const cmd = params.at(-1) as Program;
      const options = cmd.optsWithGlobals();
      found(build(cmd.processedArgs as string[], options), options);
    };
  const done = (command: Command) => act(() => command);

  subscriberCommands(program, act);
  publishCommands(program, act);
  haltCommands(program, act, done);
  tenantCommands(program, act, done);
  webhookCommands(program, act, done);
  program
    .command("admin-token")
    .description("print a new admin token for the gateway's ADMIN_TOKEN (no call is made)")
    .action(done({ name: "admin-token" }));
  return program;
}

type Act = (build: (args: string[], options: Record<string, unknown>) => Command) => (...params: unknown[]) => void;
type Done = (command: Command) => (...params: unknown[]) => void;

function subscriberCommands(program: Program, act: Act): void {
  const credentials = (cmd: Program) =>
    cmd
      .option("--stream-url <url>", "stream gateway URL (default: $HELIOGRAPH_STREAM_URL, then .heliograph/dev.json)")
      .option(
        "--subscriber-token <token>",
        "subscriber's bearer token (default: $HELIOGRAPH_TOKEN, then .heliograph/dev.json)",
      );
  credentials(
    program
      .command("tail")
      .description(
        "follow a stream: print each event as it is numbered, one line each (--json: JSON lines); halts and evictions go to stderr; Ctrl-C ends it",
      )
      .argument("<stream>", "stream id, e.g. algorithm-1", streamId)
      .option("--from <n>", "start at event number n (default: only events numbered after it starts)", eventNumber),
  ).action(
    act(([stream], o) => ({
      name: "tail",
      stream: stream as string,
      ...(o.from !== undefined && { from: o.from as number }),
    })),
  );
  credentials(
    program
      .command("replay")
      .description(
        "write events from..to (inclusive) of a stream to stdout as JSON lines (e.g. > file.jsonl), with a progress bar on stderr",
      )
      .argument("<stream>", "stream id, e.g. algorithm-1", streamId)
      .requiredOption("--from <n>", "first event number", eventNumber)
      .requiredOption("--to <m>", "last event number (at most the stream's head when it starts)", eventNumber),
  ).action(
    act(([stream], o) => {
      if ((o.to as number) < (o.from as number)) throw new UsageError(`--to ${o.to} is before --from ${o.from}`);
      return { name: "replay", stream: stream as string, from: o.from as number, to: o.to as number };
    }),
  );
}

function publishCommands(program: Program, act: Act): void {
  const publish = program
    .command("publish")
    .description("publish through the publisher API (API key and secret; retried under one Idempotency-Key)");
  const common = (cmd: Program) =>
    cmd
      .option("--wait <seconds>", "wait up to this long (0-30) for the event number", waitSeconds)
      .option("--idempotency-key <key>", "the publish's Idempotency-Key (default: a new one)")
      .option("--ingest-url <url>", "ingest gateway URL (default: $HELIOGRAPH_INGEST_URL, then .heliograph/dev.json)")
      .option("--api-key <key>", "publisher's API key (default: $HELIOGRAPH_API_KEY, then .heliograph/dev.json)")
      .option(
        "--api-secret <secret>",
        "publisher's API secret (default: $HELIOGRAPH_API_SECRET, then .heliograph/dev.json)",
      );
  const flags = (o: Record<string, unknown>): PublishFlags => ({
    ...(o.wait !== undefined && { wait: o.wait as number }),
    ...(o.idempotencyKey !== undefined && { idempotencyKey: o.idempotencyKey as string }),
  });

  common(
    publish
      .command("signal")
      .description("create a trading signal (POST /api/v1/create_trading_signal) from flags, a JSON file, or both")
      .option("--algorithm <id>", "algorithm id", positiveInteger)
      .option("--ticker <symbol>", "ticker symbol, e.g. AAPL")
      .option("--ratio <r>", "portfolio ratio to invest, in (0, 1]", number)
      .option("--buying-power <r>", "percentage of buying power, in (0, 1] (instead of --ratio)", number)
      .option("--side <side>", "buy or sell")
      .option("--tif <tif>", "time in force: gtc or day")
      .option("--order-type <type>", "order type (default: market, the only one supported)")
      .option("--file <file>", "a JSON object with the request's fields; flags override it"),
  ).action(
    act((_, o) => {
      const fields: Record<string, unknown> = {};
      const set = (key: string, value: unknown) => {
        if (value !== undefined) fields[key] = value;
      };
      set("algorithm_id", o.algorithm);
      set("ticker_symbol", o.ticker);
      set("portfolio_ratio_investment", o.ratio);
      set("percentage_of_buying_power", o.buyingPower);
      set("side", o.side);
      set("time_in_force", o.tif);
      set("order_type", o.orderType);
      return {
        name: "publish-signal",
        fields,
        ...(o.file !== undefined && { file: o.file as string }),
        ...flags(o),
      };
    }),
  );
  common(
    publish
      .command("resource")
      .description("upload a resource's values (POST /api/v1/upload_resource)")
      .requiredOption("--resource <id>", "resource id", positiveInteger)
      .requiredOption("--data <file>", "a JSON object of the resource's values (resource_dict); - reads stdin"),
  ).action(
    act((_, o) => ({
      name: "publish-resource",
      resourceId: o.resource as number,
      dataFile: o.data as string,
      ...flags(o),
    })),
  );
  common(
    publish
      .command("idea")
      .description("open, update or close a trade idea (POST /api/v1/ideas/{channel}/{action})")
      .addArgument(new Argument("<action>", "open, update or close").choices(["open", "update", "close"]))
      .requiredOption("--channel <channel>", "idea channel, e.g. demo")
      .requiredOption(
        "--file <file>",
        "the event's data as the trade-ideas document shows it (deploy/dev/examples/idea-open.json); - reads stdin",
      ),
  ).action(
    act(([action], o) => ({
      name: "publish-idea",
      action: action as "open" | "update" | "close",
      channel: o.channel as string,
      file: o.file as string,
      ...flags(o),
    })),
  );
}

function haltCommands(program: Program, act: Act, done: Done): void {
  program
    .command("halts")
    .description("halted streams: since, reason, offending ingest id, held count")
    .action(done({ name: "halts" }));
  const halt = program.command("halt").description("a halted stream: show it, or resolve it (skip or retry)");
  const ingestId = new Option(
    "--ingest-id <id>",
    "resolve only if this is still the offending publish (else 409 HALT_CHANGED)",
  );
  halt
    .command("show")
    .description("one halt, with the offending event")
    .argument("<stream>", "stream id", streamId)
    .action(act(([stream]) => ({ name: "halt-show", stream: stream as string })));
  halt
    .command("skip")
    .description("park the offending publish (kept, never deleted); the stream resumes")
    .argument("<stream>", "stream id", streamId)
    .addOption(ingestId)
    .action(
      act(([stream], o) => ({
        name: "halt-skip",
        stream: stream as string,
        ingestId: o.ingestId as string | undefined,
      })),
    );
  halt
    .command("retry")
    .description("number the offending publish again (with fixed data)")
    .argument("<stream>", "stream id", streamId)
    .addOption(ingestId)
    .option("--data <file>", "a JSON object replacing the offending event's data")
    .action(
      act(([stream], o) => ({
        name: "halt-retry",
        stream: stream as string,
        ingestId: o.ingestId as string | undefined,
        dataFile: o.data as string | undefined,
      })),
    );
  program
    .command("parked")
    .description("publishes skipped on a stream")
    .argument("<stream>", "stream id", streamId)
    .action(act(([stream]) => ({ name: "parked", stream: stream as string })));
  program
    .command("stream")
    .description("a stream's head, status and held count")
    .argument("<stream>", "stream id", streamId)
    .action(act(([stream]) => ({ name: "stream", stream: stream as string })));
}

const TENANT_NOUNS: Record<TenantKind, string> = {
  publisher: "publishers (id, name, status, API key)",
  subscriber: "subscribers (id, name, status, entitled streams)",
  resource: "resources (id, publisher, title, stream)",
  algorithm: "algorithms (id, publisher, name, stream)",
  channel: "idea channels (id, publisher, title, stream)",
};

function tenantCommands(program: Program, act: Act, done: Done): void {
  for (const kind of Object.keys(TENANT_NOUNS) as TenantKind[]) {
    program
      .command(`${kind}s`)
      .description(`list ${TENANT_NOUNS[kind]} (the same as ${kind} list)`)
      .action(done({ name: "list", kind }));
    const noun = program.command(kind).description(`${kind} commands (admin API)`);
    noun
      .command("list")
      .description(`list ${TENANT_NOUNS[kind]}`)
      .action(done({ name: "list", kind }));
    noun
      .command("show")
      .description(`one ${kind}`)
      .argument("<id>", `${kind} id`, entityId(kind))
      .action(act(([id]) => ({ name: "show", kind, id: id as string })));
    createCommand(kind, noun.command("create"), act);
    if (kind === "publisher" || kind === "subscriber") credentialCommands(kind, noun, act);
    else deleteCommand(kind, noun, act);
  }
}

/** `resource|algorithm|channel delete <id> --yes`: publishes to it are refused; its stream stays. */
function deleteCommand(kind: "resource" | "algorithm" | "channel", noun: Program, act: Act): void {
  noun
    .command("delete")
    .description(
      `delete the ${kind === "channel" ? "idea channel" : kind}: publishes to it are refused, its stream stays readable; needs --yes`,
    )
    .argument("<id>", `${kind} id`, entityId(kind))
    .option("--yes", "confirm the delete (it cannot be undone)")
    .action(
      act(([id], o) => {
        if (o.yes !== true) throw new UsageError(`${kind} delete cannot be undone: add --yes to delete ${id}`);
        return { name: "delete", kind, id: id as string };
      }),
    );
}

function createCommand(kind: TenantKind, cmd: Program, act: Act): void {
  const create = (body: (o: Record<string, unknown>, args: string[]) => Record<string, unknown>, pairs = false) =>
    cmd.action(
      act((args, o) => ({
        name: "create",
        kind,
        body: Object.fromEntries(Object.entries(body(o, args)).filter(([, v]) => v !== undefined)),
        ...(pairs && { pairsFile: o.pairs as string }),
      })),
    );
  switch (kind) {
    case "publisher":
      cmd
        .description("create a publisher; its API key and secret are printed once")
        .requiredOption("--name <name>", "display name")
        .option("--id <id>", "stable id (default: generated)");
      create((o) => ({ name: o.name, id: o.id }));
      return;
    case "subscriber":
      cmd
        .description("create a subscriber; its bearer token is printed once")
        .requiredOption("--name <name>", "display name")
        .option("--id <id>", "stable id (default: generated)")
        .option("--stream <stream>", "a stream it may read (repeat for more)", collectStreams, []);
      create((o) => ({ name: o.name, id: o.id, streams: o.stream }));
      return;
    case "resource":
      cmd
        .description("create a resource (its stream is resource-<id>)")
        .requiredOption("--publisher <id>", "the publisher that owns it")
        .requiredOption("--title <title>", "title")
        .requiredOption("--pairs <file>", 'a JSON object: key_value_type_pairs, e.g. {"Symbol": "STRING"}')
        .option("--id <n>", "resource id (default: the next free one)", positiveInteger);
      create((o) => ({ publisher_id: o.publisher, title: o.title, id: o.id }), true);
      return;
    case "algorithm":
      cmd
        .description("create an algorithm (its stream is algorithm-<id>)")
        .requiredOption("--publisher <id>", "the publisher that owns it")
        .requiredOption("--name <name>", "name")
        .option("--id <n>", "algorithm id (default: the next free one)", positiveInteger);
      create((o) => ({ publisher_id: o.publisher, name: o.name, id: o.id }));
      return;
    case "channel":
      cmd
        .description("create an idea channel (its stream is ideas-<id>)")
        .argument("<id>", "channel id, e.g. equities")
        .requiredOption("--publisher <id>", "the publisher that owns it")
        .requiredOption("--title <title>", "title");
      create((o, [id]) => ({ id, publisher_id: o.publisher, title: o.title }));
      return;
  }
}

function credentialCommands(kind: "publisher" | "subscriber", noun: Program, act: Act): void {
  const what = kind === "publisher" ? "API key and secret" : "bearer token";
  const describe: Record<Exclude<CredentialAction, "show">, string> = {
    rotate: `issue a new ${what} (shown once); the old one is refused everywhere within a second`,
    revoke: `refuse the ${what} until the next rotate${kind === "subscriber" ? " (held long polls end)" : ""}`,
    delete:
      kind === "publisher"
        ? "delete the publisher and its key (its streams stay); needs --yes"
        : "delete the subscriber, its token and entitlements; needs --yes",
  };
  for (const action of ["rotate", "revoke", "delete"] as const) {
    const cmd = noun.command(action).description(describe[action]).argument("<id>", `${kind} id`, entityId(kind));
    if (action === "delete") cmd.option("--yes", "confirm the delete (it cannot be undone)");
    cmd.action(
      act(([id], o) => {
        if (action === "delete" && o.yes !== true)
          throw new UsageError(`${kind} delete cannot be undone: add --yes to delete ${id}`);
        return { name: "credential", kind, action, id: id as string };
      }),
    );
  }
  if (kind === "subscriber")
    noun
      .command("entitle")
      .description("set the streams a subscriber may read (replaces the list)")
      .argument("<id>", "subscriber id", entityId(kind))
      .argument("<streams...>", "stream ids", (value: string, previous: string[] = []) => [
        ...previous,
        streamId(value),
      ])
      .action(act((args) => ({ name: "entitle", id: args[0] as string, streams: args[1] as unknown as string[] })));
}

function webhookCommands(program: Program, act: Act, done: Done): void {
  program
    .command("webhooks")
    .description("webhook endpoints (id, subscriber, stream, status, URL)")
    .action(done({ name: "webhooks" }));
  const webhook = program.command("webhook").description("a webhook endpoint (admin API)");
  webhook
    .command("create")
    .description("register an endpoint for a subscriber's stream; prints its signing secret, shown once")
    .argument("<subscriber>", "subscriber id", entityId("subscriber"))
    .argument("<stream>", "stream id", streamId)
    .argument("<url>", "http or https URL", (value: string) => {
      if (!/^https?:\/\//i.test(value)) throw new InvalidArgumentError(`"${value}" is not an http or https URL`);
      return value;
    })
    .option("--from <n>", "the first event number to deliver (default: the events numbered from now on)", eventNumber)
    .action(
      act(([subscriber, stream, target], o) => ({
        name: "webhook-create",
        subscriber: subscriber as string,
        stream: stream as string,
        target: target as string,
        ...(o.from === undefined ? {} : { from: o.from as number }),
      })),
    );
  const describe: Record<WebhookAction, string> = {
    show: "status, last error and position (the last event delivered)",
    pause: "stop deliveries (the one in flight completes)",
    resume: "deliver again from the position, with a whole retry window",
    attempts: "the delivery log: event, status, latency, error",
    rotate: "a new signing secret (shown once); for a day the old one signs deliveries too",
    delete: "delete the endpoint, its position and its log; needs --yes",
  };
  for (const action of ["show", "pause", "resume", "attempts", "rotate", "delete"] as const) {
    const cmd = webhook
      .command(action)
      .description(describe[action])
      .argument("<id>", "endpoint id", entityId("webhook"));
    if (action === "delete") cmd.option("--yes", "confirm the delete (it cannot be undone)");
    cmd.action(
      act(([id], o) => {
        if (action === "delete" && o.yes !== true)
          throw new UsageError(`webhook delete cannot be undone: add --yes to delete ${id}`);
        return { name: "webhook", action, id: id as string };
      }),
    );
  }
  webhook
    .command("replay")
    .description("deliver again from event N (earlier ones are skipped)")
    .argument("<id>", "endpoint id", entityId("webhook"))
    .requiredOption("--from <n>", "the next event number to deliver", eventNumber)
    .action(act(([id], o) => ({ name: "webhook-replay", id: id as string, from: o.from as number })));
}

function streamId(value: string): string {
  if (!STREAM_ID_PATTERN.test(value))
    throw new InvalidArgumentError(`"${value}" is not a stream id (^[a-z0-9][a-z0-9_-]{0,63}$, e.g. ideas-equities)`);
  return value;
}

function collectStreams(value: string, previous: string[]): string[] {
  return [...previous, streamId(value)];
}

/** Publisher and subscriber ids as the admin API issues and accepts them; other kinds pass to the API. */
const ENTITY_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

function entityId(kind: TenantKind | "webhook") {
  return (value: string): string => {
    if (!ENTITY_ID.test(value))
      throw new InvalidArgumentError(`"${value}" is not a ${kind} id (^[a-z0-9][a-z0-9_-]{0,63}$)`);
    return value;
  };
}

function eventNumber(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError("expected an event number (0, 1, 2, …)");
  return Number(value);
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

function number(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("expected a number");
  return n;
}

function waitSeconds(value: string): number {
  const n = number(value);
  if (n < 0 || n > 30) throw new InvalidArgumentError("expected seconds from 0 to 30");
  return n;
}
