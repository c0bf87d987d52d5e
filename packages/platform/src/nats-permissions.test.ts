import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, natsCredentialsOf } from "./config.js";
import { NATS_PERMISSIONS, NATS_ROLES, natsInboxPrefix, renderNatsAuthConfig } from "./nats-permissions.js";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const BEGIN = "# BEGIN rendered NATS users\n";
const END = "# END rendered NATS users";

describe("deploy/'s NATS users", () => {
  it.each(["deploy/compose/nats.conf", "deploy/k8s/nats.conf"])(
    "%s holds exactly what the renderer renders",
    (file) => {
      const text = readFileSync(join(REPO_ROOT, file), "utf8");
      const start = text.indexOf(BEGIN);
      const end = text.indexOf(END);
      expect(start, `${file} has no "${BEGIN.trim()}" marker`).toBeGreaterThanOrEqual(0);
      expect(text.slice(start + BEGIN.length, end)).toBe(renderNatsAuthConfig("environment"));
    },
  );

  it("reads every password from the environment, never from the file", () => {
    const rendered = renderNatsAuthConfig("environment");
    for (const role of NATS_ROLES)
      expect(rendered).toContain(`password: $NATS_PASSWORD_${role.toUpperCase().replace(/-/g, "_")}\n`);
  });
});

describe("NATS_PERMISSIONS", () => {
  it("lets each role but admin subscribe only under its own inbox prefix for replies", () => {
    for (const role of NATS_ROLES.filter((r) => r !== "admin")) {
      const inboxes = NATS_PERMISSIONS[role].subscribe.allow.filter((s) => s.startsWith("_INBOX"));
      expect(inboxes).toEqual([`${natsInboxPrefix(role)}.>`]);
    }
  });

  it("gives no role but admin a stream delete or purge, nor a wildcard over the JetStream API", () => {
    for (const role of NATS_ROLES.filter((r) => r !== "admin")) {
      for (const subject of NATS_PERMISSIONS[role].publish.allow) {
        expect(subject).not.toMatch(/STREAM\.(DELETE|PURGE)|^\$JS\.API\.>$|^>$|^\$JS\.API\.STREAM\.[A-Z]+\.\*$/);
      }
    }
  });
});

describe("the webhook dispatcher's NATS user", () => {
  const allowed = NATS_PERMISSIONS["webhook-dispatcher"];

  it("writes webhook endpoint records of the control plane and no other key", () => {
    const kvWrites = allowed.publish.allow.filter((s) => s.startsWith("$KV."));
    expect(kvWrites).toEqual(["$KV.heliograph-control.webhook.*"]);
  });

  it("hears the sequencers' numbered notices, and publishes no event or ingest subject", () => {
    expect(allowed.subscribe.allow).toContain("heliograph.sequenced.>");
    expect(allowed.publish.allow.filter((s) => /^(events|ingest)\./.test(s))).toEqual([]);
  });
});

describe("natsCredentialsOf", () => {
  const secretFile = (content: string) => {
    const file = join(mkdtempSync(join(tmpdir(), "hg-nats-secret-")), "password");
    writeFileSync(file, content);
    return file;
  };
  const problemsOf = (env: Record<string, string>) => {
    try {
      natsCredentialsOf(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => p.variable);
      throw err;
    }
    return [];
  };

  it("is none without NATS_USER", () => expect(natsCredentialsOf({})).toBeUndefined());

  it("refuses the deploy examples' placeholders", () => {
    expect(problemsOf({ NATS_USER: "sequencer", NATS_PASSWORD: "REPLACE_WITH_48_HEX_CHARACTERS" })).toEqual([
      "NATS_PASSWORD",
    ]);
    expect(
      problemsOf({ NATS_USER: "sequencer", NATS_PASSWORD_FILE: secretFile("replace-with-openssl-rand-hex-24\n") }),
    ).toEqual(["NATS_PASSWORD_FILE"]);
  });

  it("takes a role's inbox prefix with its password", () =>
    expect(natsCredentialsOf({ NATS_USER: "sequencer", NATS_PASSWORD: "pw" })).toEqual({
      user: "sequencer",
      password: "pw",
      inboxPrefix: natsInboxPrefix("sequencer"),
    }));

  it("reads NATS_PASSWORD_FILE without its trailing newline", () =>
    expect(natsCredentialsOf({ NATS_USER: "downstream", NATS_PASSWORD_FILE: secretFile("s3cret\n") })?.password).toBe(
      "s3cret",
    ));

  it("refuses both NATS_PASSWORD and NATS_PASSWORD_FILE, naming them", () =>
    expect(problemsOf({ NATS_USER: "sequencer", NATS_PASSWORD: "a", NATS_PASSWORD_FILE: secretFile("b") })).toEqual([
      "NATS_PASSWORD, NATS_PASSWORD_FILE",
    ]));

  it("refuses a user without a password, a password without a user, an unreadable file", () => {
    expect(problemsOf({ NATS_USER: "sequencer" })).toEqual(["NATS_PASSWORD"]);
    expect(problemsOf({ NATS_PASSWORD: "a" })).toEqual(["NATS_USER"]);
    expect(problemsOf({ NATS_USER: "sequencer", NATS_PASSWORD_FILE: "/nonexistent/password" })).toEqual([
      "NATS_PASSWORD_FILE",
    ]);
  });
});
