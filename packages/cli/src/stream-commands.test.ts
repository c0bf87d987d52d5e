/**
 * tail, publish, replay and the tenant commands as a user runs them (`node --import tsx
 * packages/cli/src/main.ts`, its own process, so SIGINT reaches the CLI itself) against a real
 * stack (`startStack`) with the demo tenant `pnpm dev` seeds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublisher, createSubscriber, type StreamEvent, type TradingSignalRequest } from "@heliograph/client";
import { DOCUMENT_RESOURCE_DICT, DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { REPO_ROOT, type Stack, startStack, waitFor, waitForHeldLongPoll } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let dev: DevConfig;
/** A folder holding `.heliograph/dev.json` of this stack: the CLI's default configuration. */
let devFolder: string;

beforeAll(async () => {
  stack = await startStack();
  dev = await seedDemoTenant(stack);
  devFolder = mkdtempSync(join(tmpdir(), "hg-cli-stream-"));
  mkdirSync(join(devFolder, ".heliograph"));
  writeFileSync(join(devFolder, ".heliograph", "dev.json"), JSON.stringify(dev));
}, 90_000);
afterAll(async () => {
  await stack?.stop();
});

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** `heliograph <args>` in `devFolder` (so it reads that dev.json), with `input` on its stdin. */
function start(args: string[], input = ""): Cli {
  const child = spawn(
    process.execPath,
    [
      "--import",
      join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs"),
      join(REPO_ROOT, "packages/cli/src/main.ts"),
      ...args,
    ],
    { cwd: devFolder, env: withoutHeliographVariables(), stdio: ["pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  child.stdin?.end(input);
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function run(args: string[], input = ""): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = start(args, input);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The environment without HELIOGRAPH_* variables a developer's shell may carry: dev.json decides. */
function withoutHeliographVariables(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("HELIOGRAPH_")));
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

async function publishSignals(count: number, algorithmId = 1): Promise<number[]> {
  const publisher = createPublisher({
    baseUrl: dev.ingest_url,
    apiKey: dev.publisher.api_key,
    apiSecret: dev.publisher.api_secret,
  });
  const numbers: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await publisher.createTradingSignal(
      { ...DOCUMENT_TRADING_SIGNAL_BODY, algorithm_id: algorithmId } as TradingSignalRequest,
      { waitForNumber: 10 },
    );
    if (answer.status !== "sequenced") throw new Error("not numbered within 10 s");
    numbers.push(answer.event_number);
  }
  return numbers;
}

/** Events first..last of a stream as the subscriber API serves them. */
async function eventsOf(stream: string, first: number, last: number): Promise<StreamEvent[]> {
  const subscriber = createSubscriber({ baseUrl: dev.stream_url, token: dev.subscriber.token });
  const events: StreamEvent[] = [];
  for await (const item of subscriber.follow(stream, { after: first - 1 })) {
    if (item.kind !== "event") continue;
    events.push(item.event);
    if (item.event.event_number >= last) break;
  }
  return events;
}

describe("heliograph tail", () => {
  it("prints the events published after it started, one line each, and Ctrl-C ends it with exit 0", async () => {
    expect(await publishSignals(1)).toEqual([0]);
    const tail = start(["tail", "algorithm-1"]);
    // It follows from the head it read at start: held at the stream's end means it is listening.
    await waitForHeldLongPoll(dev.stream_url, { timeoutMs: 20_000 });
    expect(await publishSignals(3)).toEqual([1, 2, 3]);
    await waitFor(() => lines(tail.stdout()).length >= 3, { what: "three lines from tail", timeoutMs: 10_000 });
    tail.child.kill("SIGINT");
    expect(await tail.exited).toBe(0);
    expect(tail.stderr()).toBe("");
    const printed = lines(tail.stdout());
    expect(printed.map((line) => /^#(\d+) /.exec(line)?.[1])).toEqual(["1", "2", "3"]);
    for (const line of printed)
      expect(line).toMatch(/^#\d+ {2}\d{4}-\d\d-\d\dT\S+ {2}TradingSignalCreated {2}\S+ {2}buy AAPL 0\.01 market gtc$/);
  }, 60_000);

  it("--from N --json prints events from N on as JSON lines, the events the API serves", async () => {
    const tail = start(["tail", "algorithm-1", "--from", "1", "--json"]);
    await waitFor(() => lines(tail.stdout()).length >= 3, { what: "three JSON lines from tail", timeoutMs: 20_000 });
    tail.child.kill("SIGINT");
    expect(await tail.exited).toBe(0);
    const printed = lines(tail.stdout()).map((line) => JSON.parse(line) as StreamEvent);
    expect(printed).toEqual(await eventsOf("algorithm-1", 1, 3));
  }, 60_000);
});

describe("heliograph publish", () => {
  it("publish signal --wait prints the event number it got", async () => {
    const published = await run(
      "publish signal --algorithm 1 --ticker AAPL --ratio 0.01 --side buy --tif gtc --wait 5".split(" "),
    );
    expect(published.stderr).toBe("");
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(/^event 4 of algorithm-1 \(ingest id \S+, id \S+\)\n$/);
    const [event] = await eventsOf("algorithm-1", 4, 4);
    expect(event?.data).toMatchObject({ ticker_symbol: "AAPL", side: "buy", portfolio_ratio_investment: 0.01 });
  }, 60_000);

  it("a 422 exits 1 with the code, message and details on stderr, and publishes nothing", async () => {
    const refused = await run(
      ["publish", "resource", "--resource", "1", "--data", "-"],
      JSON.stringify({ ...DOCUMENT_RESOURCE_DICT, Symbol: 5 }),
    );
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^heliograph: RESOURCE_VALUE_INVALID: .+\n {2}(resource_dict\.)?Symbol: .+\n/);
    const subscriber = createSubscriber({ baseUrl: dev.stream_url, token: dev.subscriber.token });
    expect(await subscriber.latest("resource-1")).toEqual([]);
  }, 60_000);

  it("publish resource from stdin and publish idea from a file are accepted", async () => {
    const resource = await run(
      ["publish", "resource", "--resource", "1", "--data", "-", "--json"],
      JSON.stringify(DOCUMENT_RESOURCE_DICT),
    );
    expect(resource.code, resource.stderr).toBe(0);
    expect(JSON.parse(resource.stdout)).toMatchObject({ status: "accepted", stream_id: "resource-1" });
    const idea = await run([
      "publish",
      "idea",
      "open",
      "--channel",
      "demo",
      "--file",
      join(REPO_ROOT, "deploy/dev/examples/idea-open.json"),
      "--wait",
      "5",
    ]);
    expect(idea.code, idea.stderr).toBe(0);
    expect(idea.stdout).toMatch(/^event 0 of ideas-demo /);
  }, 60_000);
});

describe("heliograph replay", () => {
  it("--from/--to writes exactly those events as JSON lines, with a count on a stderr that is no terminal", async () => {
    await publishSignals(5); // algorithm-1 now holds 0..9
    const replayed = await run(["replay", "algorithm-1", "--from", "3", "--to", "7"]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stderr).toBe("replayed 5 of 5 events\n");
    const events = lines(replayed.stdout).map((line) => JSON.parse(line) as StreamEvent);
    expect(events.map((e) => e.event_number)).toEqual([3, 4, 5, 6, 7]);
    expect(events).toEqual(await eventsOf("algorithm-1", 3, 7));
  }, 60_000);

  it("draws its progress bar when stderr is a terminal (a pseudo-terminal from script), the events still on stdout", async () => {
    // main.ts decides from process.stderr.isTTY: only a real terminal shows whether that is read.
    const out = join(devFolder, "replay-tty.jsonl");
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    const cli = [
      process.execPath,
      "--import",
      join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs"),
      join(REPO_ROOT, "packages/cli/src/main.ts"),
      ...["replay", "algorithm-1", "--from", "0", "--to", "9"],
    ];
    const inTerminal = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn("script", ["-qec", `${cli.map(quote).join(" ")} > ${quote(out)}`, "/dev/null"], {
        cwd: devFolder,
        env: withoutHeliographVariables(),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout?.on("data", (chunk) => {
        output += chunk;
      });
      child.on("close", (code) => resolve({ code, output }));
    });
    expect(inTerminal.code, inTerminal.output).toBe(0);
    // The terminal got the bar, drawn in place and ended full; not the plain count of a pipe.
    expect(inTerminal.output).toContain(`\r[${"#".repeat(30)}] 100% 10/10`);
    expect(inTerminal.output).not.toContain("replayed 10 of 10 events");
    const events = lines(readFileSync(out, "utf8")).map((line) => JSON.parse(line) as StreamEvent);
    expect(events.map((e) => e.event_number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 60_000);

  it("stops at the stream's head when --to is past it, and says so", async () => {
    const replayed = await run(["replay", "algorithm-1", "--from", "8", "--to", "1000"]);
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stderr).toBe("heliograph: algorithm-1 ends at event 9: replaying 8..9\nreplayed 2 of 2 events\n");
    expect(lines(replayed.stdout).map((line) => (JSON.parse(line) as StreamEvent).event_number)).toEqual([8, 9]);
  }, 60_000);
});

describe("heliograph --help and tenant commands", () => {
  it.each([
    [["tail", "--help"], "Usage: heliograph tail [options] <stream>"],
    [["publish", "--help"], "Usage: heliograph publish [options] [command]"],
    [["replay", "-h"], "--to <m>"],
    [["help", "channel"], "Usage: heliograph channel [options] [command]"],
  ])(
    "%j prints its help and exits 0",
    async (args, text) => {
      const help = await run(args);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe("");
      expect(help.stdout).toContain(text);
    },
    30_000,
  );

  it("algorithm create makes an algorithm that algorithms lists and a publish reaches", async () => {
    const created = await run([
      "algorithm",
      "create",
      "--publisher",
      dev.publisher.id,
      "--name",
      "CLI algorithm",
      "--id",
      "7",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^stream_id: +algorithm-7$/m);
    const listed = await run(["algorithms"]);
    expect(listed.stdout).toMatch(/^ID\s+PUBLISHER\s+NAME\s+STREAM\s+CREATED$/m);
    expect(listed.stdout).toMatch(new RegExp(`^7\\s+${dev.publisher.id}\\s+CLI algorithm\\s+algorithm-7\\s`, "m"));
    const json = await run(["algorithm", "list", "--json"]);
    expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({ id: 7, stream_id: "algorithm-7" }));
    expect(await publishSignals(1, 7)).toEqual([0]);
  }, 60_000);
});

describe("the README's command-line examples", () => {
  /** Each `pnpm heliograph …` line of the README's CLI section followed by `# ` lines: what it prints. */
  function readmeExamples(): { args: string[]; printed: string[] }[] {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Command line: `pnpm heliograph`"));
    const blocks = [...section.slice(0, section.indexOf("\n## ")).matchAll(/```sh\n([\s\S]*?)```/g)];
    const examples: { args: string[]; printed: string[] }[] = [];
    for (const [, block] of blocks) {
      const blockLines = (block ?? "").split("\n");
      blockLines.forEach((line, i) => {
        if (!line.startsWith("pnpm heliograph ")) return;
        const printed: string[] = [];
        for (const next of blockLines.slice(i + 1)) {
          if (!next.startsWith("# ")) break;
          printed.push(next.slice(2));
        }
        if (printed.length > 0) examples.push({ args: line.slice("pnpm heliograph ".length).split(/ +/), printed });
      });
    }
    return examples;
  }

  /** What the README shows as a pattern: `…` stands for an id, a number for any number. */
  const shown = (text: string) =>
    new RegExp(
      `^${text
        .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        .replace(/…/g, "\\S+?")
        .replace(/\d+/g, "\\d+")}$`,
    );

  it("print what the README shows (tail, which runs until Ctrl-C, is the tail test's)", async () => {
    const examples = readmeExamples().filter((e) => e.args[0] !== "tail");
    // The publish with --wait and the refused publish.
    expect(examples.map((e) => e.args.slice(0, 2).join(" "))).toEqual(["publish signal", "publish signal"]);
    for (const { args, printed } of examples) {
      const ran = await run(args);
      const refused = printed[0]?.startsWith("heliograph: ");
      expect(ran.code, ran.stderr).toBe(refused ? 1 : 0);
      const output = lines(refused ? ran.stderr : ran.stdout);
      expect(output.length, `${args.join(" ")}: ${output.join("\n")}`).toBe(printed.length);
      for (const [i, line] of output.entries()) expect(line).toMatch(shown(printed[i] ?? ""));
    }
  }, 60_000);
});
