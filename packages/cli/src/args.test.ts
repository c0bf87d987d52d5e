import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCliArgs, UsageError } from "./args.js";
import { ConfigError, resolveConfig, resolvePublisherConfig, resolveSubscriberConfig } from "./config.js";

describe("parseCliArgs", () => {
  it.each([
    [["halts"], { name: "halts" }],
    [["halt", "show", "ideas-eq"], { name: "halt-show", stream: "ideas-eq" }],
    [["halt", "skip", "ideas-eq"], { name: "halt-skip", stream: "ideas-eq", ingestId: undefined }],
    [
      ["halt", "skip", "ideas-eq", "--ingest-id", "ing_1"],
      { name: "halt-skip", stream: "ideas-eq", ingestId: "ing_1" },
    ],
    [["halt", "skip", "--ingest-id=ing_1", "ideas-eq"], { name: "halt-skip", stream: "ideas-eq", ingestId: "ing_1" }],
    [
      ["halt", "retry", "ideas-eq", "--ingest-id", "ing_1", "--data", "fix.json"],
      { name: "halt-retry", stream: "ideas-eq", ingestId: "ing_1", dataFile: "fix.json" },
    ],
    [
      ["halt", "retry", "ideas-eq"],
      { name: "halt-retry", stream: "ideas-eq", ingestId: undefined, dataFile: undefined },
    ],
    [["parked", "resource-1"], { name: "parked", stream: "resource-1" }],
    [["stream", "algorithm-2"], { name: "stream", stream: "algorithm-2" }],
    [["publishers"], { name: "list", kind: "publisher" }],
    [["subscriber", "list"], { name: "list", kind: "subscriber" }],
    [["channels"], { name: "list", kind: "channel" }],
    [["resource", "show", "1"], { name: "show", kind: "resource", id: "1" }],
    [
      ["subscriber", "create", "--name", "Desk", "--stream", "algorithm-1", "--stream", "ideas-demo"],
      { name: "create", kind: "subscriber", body: { name: "Desk", streams: ["algorithm-1", "ideas-demo"] } },
    ],
    [
      ["channel", "create", "equities", "--publisher", "p-1", "--title", "Equities"],
      { name: "create", kind: "channel", body: { id: "equities", publisher_id: "p-1", title: "Equities" } },
    ],
    [
      ["subscriber", "entitle", "s-1", "algorithm-1", "resource-1"],
      { name: "entitle", id: "s-1", streams: ["algorithm-1", "resource-1"] },
    ],
    [["webhooks"], { name: "webhooks" }],
    [
      ["webhook", "create", "s-1", "algorithm-1", "https://example.com/hook", "--from", "0"],
      { name: "webhook-create", subscriber: "s-1", stream: "algorithm-1", target: "https://example.com/hook", from: 0 },
    ],
    [
      ["webhook", "create", "s-1", "algorithm-1", "https://example.com/hook"],
      { name: "webhook-create", subscriber: "s-1", stream: "algorithm-1", target: "https://example.com/hook" },
    ],
    [["webhook", "rotate", "wh-1"], { name: "webhook", action: "rotate", id: "wh-1" }],
    [["webhook", "replay", "wh-1", "--from", "12"], { name: "webhook-replay", id: "wh-1", from: 12 }],
    [["webhook", "delete", "wh-1", "--yes"], { name: "webhook", action: "delete", id: "wh-1" }],
    [["tail", "algorithm-1"], { name: "tail", stream: "algorithm-1" }],
    [["tail", "algorithm-1", "--from", "0"], { name: "tail", stream: "algorithm-1", from: 0 }],
    [["replay", "resource-1", "--from", "3", "--to", "9"], { name: "replay", stream: "resource-1", from: 3, to: 9 }],
    [
      "publish signal --algorithm 1 --ticker AAPL --ratio 0.01 --side buy --tif gtc --wait 5".split(" "),
      {
        name: "publish-signal",
        fields: {
          algorithm_id: 1,
          ticker_symbol: "AAPL",
          portfolio_ratio_investment: 0.01,
          side: "buy",
          time_in_force: "gtc",
        },
        wait: 5,
      },
    ],
    [
      ["publish", "resource", "--resource", "1", "--data", "-"],
      { name: "publish-resource", resourceId: 1, dataFile: "-" },
    ],
    [
      ["publish", "idea", "close", "--channel", "demo", "--file", "idea.json", "--idempotency-key", "k1"],
      { name: "publish-idea", action: "close", channel: "demo", file: "idea.json", idempotencyKey: "k1" },
    ],
    [["admin-token"], { name: "admin-token" }],
    [["publisher", "rotate", "p-1"], { name: "credential", kind: "publisher", action: "rotate", id: "p-1" }],
    [["subscriber", "revoke", "s-1"], { name: "credential", kind: "subscriber", action: "revoke", id: "s-1" }],
    [["subscriber", "delete", "s-1", "--yes"], { name: "credential", kind: "subscriber", action: "delete", id: "s-1" }],
    [["resource", "delete", "7", "--yes"], { name: "delete", kind: "resource", id: "7" }],
    [["algorithm", "delete", "3", "--yes"], { name: "delete", kind: "algorithm", id: "3" }],
    [["channel", "delete", "equities", "--yes"], { name: "delete", kind: "channel", id: "equities" }],
  ])("%j → %j", (argv, command) => {
    expect(parseCliArgs(argv).command).toEqual(command);
  });

  it.each([[[]], [["help"]], [["-h"]]])("%j is the help of every command", (argv) => {
    const { command } = parseCliArgs(argv);
    expect(command).toMatchObject({
      name: "help",
      text: expect.stringContaining("Usage: heliograph [options] [command]"),
    });
    for (const name of ["tail", "replay", "publish", "halts", "publisher", "channel", "admin-token"])
      expect((command as { text: string }).text).toMatch(new RegExp(`^  ${name}\\b`, "m"));
  });

  it.each([
    [["halts", "--help"], "Usage: heliograph halts [options]"],
    [["help", "tail"], "Usage: heliograph tail [options] <stream>"],
    [["publish", "signal", "-h"], "--algorithm <id>"],
    [["subscriber", "create", "--help"], "--stream <stream>"],
  ])("%j is that command's help", (argv, text) => {
    const { command } = parseCliArgs(argv);
    expect(command.name).toBe("help");
    expect((command as { text: string }).text).toContain(text);
  });

  it("carries the help of the command a usage error is about", () => {
    expect(() => parseCliArgs(["halt", "show"])).toThrow(
      expect.objectContaining({ help: expect.stringContaining("Usage: heliograph halt show [options] <stream>") }),
    );
  });

  it("takes publisher and subscriber credentials as flags", () => {
    expect(
      parseCliArgs(["tail", "algorithm-1", "--stream-url", "http://s:1", "--subscriber-token", "hgt", "--json"]),
    ).toMatchObject({ streamUrl: "http://s:1", subscriberToken: "hgt", json: true });
    expect(
      parseCliArgs([
        "publish",
        "resource",
        "--resource",
        "1",
        "--data",
        "d.json",
        "--ingest-url",
        "http://i:2",
        "--api-key",
        "k",
        "--api-secret",
        "s",
      ]),
    ).toMatchObject({ ingestUrl: "http://i:2", apiKey: "k", apiSecret: "s" });
  });

  it("takes --url, --token and --json anywhere", () => {
    expect(parseCliArgs(["--url", "http://h:1", "halts", "--token", "t", "--json"])).toEqual({
      command: { name: "halts" },
      url: "http://h:1",
      token: "t",
      json: true,
      yes: false,
    });
    expect(parseCliArgs(["halts"])).toEqual({
      command: { name: "halts" },
      url: undefined,
      token: undefined,
      json: false,
      yes: false,
    });
  });

  it.each([
    [["nope"], /unknown command 'nope'/],
    [["webhook"], /webhook needs one of: create, show/],
    [["webhook", "create", "s-1", "algorithm-1", "ftp://x"], /not an http or https URL/],
    [["webhook", "replay", "wh-1"], /--from <n>/],
    [["webhook", "replay", "wh-1", "--from", "1.5"], /expected an event number/],
    [["webhook", "delete", "wh-1"], /add --yes/],
    [["halt"], /halt needs one of: show, skip, retry/],
    [["halt", "drop", "s"], /unknown command 'drop'/],
    [["halt", "show"], /missing required argument 'stream'/],
    [["halt", "show", "a", "b"], /too many arguments for 'show'/],
    [["halt", "show", "Not Valid"], /is not a stream id/],
    [["parked", "UPPER"], /is not a stream id/],
    [["halts", "extra"], /too many arguments for 'halts'/],
    [["halts", "--ingest-id", "x"], /unknown option '--ingest-id'/],
    [["halt", "skip", "s", "--data", "f.json"], /unknown option '--data'/],
    [["halts", "--bogus"], /unknown option '--bogus'/],
    [["halt", "skip", "s", "--ingest-id"], /argument missing/],
    [["publisher"], /publisher needs one of: list, show, create, rotate, revoke, delete/],
    [["publisher", "erase", "p"], /unknown command 'erase'/],
    [["subscriber", "rotate"], /missing required argument 'id'/],
    [["publisher", "show", "Bad Id"], /is not a publisher id/],
    [["publisher", "delete", "p"], /add --yes/],
    [["resource", "delete", "7"], /add --yes/],
    [["channel", "delete", "Bad Id", "--yes"], /is not a channel id/],
    [["publishers", "x"], /too many arguments for 'publishers'/],
    [["tail", "algorithm-1", "--from", "-1"], /expected an event number/],
    [["replay", "algorithm-1", "--from", "1"], /required option '--to <m>' not specified/],
    [["replay", "algorithm-1", "--from", "5", "--to", "4"], /--to 4 is before --from 5/],
    [["publish", "signal", "--ratio", "lots"], /expected a number/],
    [["publish", "signal", "--wait", "31"], /seconds from 0 to 30/],
    [["publish", "idea", "reopen", "--channel", "c", "--file", "f"], /Allowed choices are open, update, close/],
  ])("%j is a usage error (%s)", (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe("resolveConfig", () => {
  const repo = mkdtempSync(join(tmpdir(), "hg-cli-"));
  mkdirSync(join(repo, ".heliograph"));
  mkdirSync(join(repo, "a", "b"), { recursive: true });
  writeFileSync(
    join(repo, ".heliograph", "dev.json"),
    JSON.stringify({
      admin_url: "http://127.0.0.1:8090/",
      admin_token: "hga_from_file",
      ingest_url: "http://127.0.0.1:8080",
      stream_url: "http://127.0.0.1:8081",
      publisher: { id: "demo-publisher", api_key: "hgk_file", api_secret: "hgs_file" },
      subscriber: { id: "demo-subscriber", token: "hgt_file" },
    }),
  );

  it("reads .heliograph/dev.json from the nearest directory upwards", () => {
    expect(resolveConfig({}, {}, join(repo, "a", "b"))).toMatchObject({
      url: "http://127.0.0.1:8090",
      token: "hga_from_file",
    });
  });

  it("prefers flags over the environment over the file", () => {
    const env = { HELIOGRAPH_ADMIN_URL: "http://env:1", HELIOGRAPH_ADMIN_TOKEN: "hga_env" };
    expect(resolveConfig({}, env, repo)).toMatchObject({ url: "http://env:1", token: "hga_env" });
    expect(resolveConfig({ url: "http://flag:2" }, env, repo)).toMatchObject({
      url: "http://flag:2",
      token: "hga_env",
    });
  });

  it("never mixes a token given by hand with a URL from a dev.json, nor the other way round", () => {
    // A checked-out folder's dev.json could name any URL: a token from the command line is not sent there.
    expect(() => resolveConfig({ token: "hga_flag" }, {}, repo)).toThrow(/no admin API URL/);
    expect(() => resolveConfig({}, { HELIOGRAPH_ADMIN_TOKEN: "hga_env" }, repo)).toThrow(/no admin API URL/);
    expect(() => resolveConfig({ url: "http://elsewhere:9" }, {}, repo)).toThrow(/no admin token/);
  });

  it("says how to configure it when nothing is found", () => {
    const empty = mkdtempSync(join(tmpdir(), "hg-cli-empty-"));
    const env = { HELIOGRAPH_ADMIN_TOKEN: "t" };
    // No dev.json above a fresh temp dir; the CLI's own repository may have one, so pass --url.
    expect(() => resolveConfig({ url: "ftp://x" }, env, empty)).toThrow(/must start with http/);
    expect(() => resolveConfig({ url: "" }, env, empty)).toThrow(ConfigError);
  });

  it("gives tail and publish their credentials from flags, the environment, else dev.json, never mixed", () => {
    expect(resolveSubscriberConfig({}, {}, repo)).toMatchObject({ url: "http://127.0.0.1:8081", token: "hgt_file" });
    expect(resolvePublisherConfig({}, {}, repo)).toMatchObject({
      url: "http://127.0.0.1:8080",
      apiKey: "hgk_file",
      apiSecret: "hgs_file",
    });
    const env = { HELIOGRAPH_STREAM_URL: "http://env:1/", HELIOGRAPH_TOKEN: "hgt_env" };
    expect(resolveSubscriberConfig({ subscriberToken: "hgt_flag" }, env, repo)).toMatchObject({
      url: "http://env:1",
      token: "hgt_flag",
    });
    expect(() => resolveSubscriberConfig({ subscriberToken: "hgt_flag" }, {}, repo)).toThrow(/no stream gateway URL/);
    expect(() =>
      resolvePublisherConfig({}, { HELIOGRAPH_INGEST_URL: "http://i:1", HELIOGRAPH_API_KEY: "k" }, repo),
    ).toThrow(/no API secret .*HELIOGRAPH_API_SECRET/);
  });
});
