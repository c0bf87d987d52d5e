import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCliArgs, UsageError } from "./args.js";
import { ConfigError, resolveConfig } from "./config.js";

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
    [[], { name: "help" }],
    [["help"], { name: "help" }],
    [["halts", "--help"], { name: "help" }],
    [["-h"], { name: "help" }],
    [["publishers"], { name: "publishers" }],
    [["subscribers"], { name: "subscribers" }],
    [["admin-token"], { name: "admin-token" }],
    [["publisher", "rotate", "p-1"], { name: "credential", kind: "publisher", action: "rotate", id: "p-1" }],
    [["subscriber", "revoke", "s-1"], { name: "credential", kind: "subscriber", action: "revoke", id: "s-1" }],
    [["subscriber", "delete", "s-1", "--yes"], { name: "credential", kind: "subscriber", action: "delete", id: "s-1" }],
  ])("%j → %j", (argv, command) => {
    expect(parseCliArgs(argv).command).toEqual(command);
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
    [["nope"], /unknown command "nope"/],
    [["halt"], /show, skip or retry/],
    [["halt", "drop", "s"], /unknown halt action "drop"/],
    [["halt", "show"], /needs a stream id/],
    [["halt", "show", "a", "b"], /one stream id/],
    [["halt", "show", "Not Valid"], /is not a stream id/],
    [["parked", "UPPER"], /is not a stream id/],
    [["halts", "extra"], /takes no arguments/],
    [["halts", "--ingest-id", "x"], /--ingest-id is for halt skip/],
    [["halt", "skip", "s", "--data", "f.json"], /--data is for halt retry/],
    [["halts", "--bogus"], /Unknown option '--bogus'/],
    [["halt", "skip", "s", "--ingest-id"], /argument missing/],
    [["publisher"], /needs show, rotate, revoke or delete/],
    [["publisher", "erase", "p"], /unknown publisher action "erase"/],
    [["subscriber", "rotate"], /takes one subscriber id/],
    [["publisher", "show", "Bad Id"], /is not a publisher id/],
    [["publisher", "delete", "p"], /add --yes/],
    [["publishers", "x"], /takes no arguments/],
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
    JSON.stringify({ admin_url: "http://127.0.0.1:8090/", admin_token: "hga_from_file" }),
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
});
