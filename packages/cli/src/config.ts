import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the admin API is and how to authenticate to it. */
export interface CliConfig {
  url: string;
  token: string;
  /** Where the values came from, for error messages. */
  source: string;
}

/** Config is missing or unreadable; exit code 1 with how to provide it. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The repository this CLI is part of: `pnpm dev` writes `.heliograph/dev.json` there. */
const OWN_REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/**
 * `.heliograph/dev.json` of the nearest directory from `cwd` upwards that has one, else of the
 * repository the CLI belongs to; undefined when there is none.
 */
export function findDevJson(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, ".heliograph", "dev.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  const own = join(OWN_REPO_ROOT, ".heliograph", "dev.json");
  return existsSync(own) ? own : undefined;
}

/** Where the stream gateway is and the subscriber's token (tail, replay). */
export interface SubscriberConfig {
  url: string;
  token: string;
  source: string;
}

/** Where the ingest gateway is and the publisher's key and secret (publish). */
export interface PublisherConfig {
  url: string;
  apiKey: string;
  apiSecret: string;
  source: string;
}

type Env = Record<string, string | undefined>;

/** One setting: its flag's value, its environment variable, and where `.heliograph/dev.json` keeps it. */
interface Setting {
  flag: string | undefined;
  env: string;
  dev: (dev: DevJson) => unknown;
  /** How to name it when it is missing. */
  what: string;
}

interface DevJson {
  admin_url?: unknown;
  admin_token?: unknown;
  ingest_url?: unknown;
  stream_url?: unknown;
  publisher?: { api_key?: unknown; api_secret?: unknown };
  subscriber?: { token?: unknown };
}

/**
 * Flags first, then the environment; only when neither gives any of the settings, all of them come
 * from `.heliograph/dev.json`. They never come from different sources: a secret given on the command
 * line is never sent to a URL some checked-out folder's dev.json names, nor a dev.json's secret to
 * a URL given by hand.
 */
function resolveSettings(settings: Setting[], env: Env, cwd: string): { values: string[]; source: string } {
  let values = settings.map((s) => s.flag ?? env[s.env]);
  let source = "flags and environment";
  if (values.every((v) => v === undefined)) {
    const file = findDevJson(cwd);
    if (file) {
      let dev: DevJson;
      try {
        dev = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
      }
      values = settings.map((s) => {
        const value = s.dev(dev);
        return typeof value === "string" ? value : undefined;
      });
      source = file;
    }
  }
  settings.forEach((s, i) => {
    if (!values[i])
      throw new ConfigError(
        `no ${s.what}: pass it (or set ${s.env}) with the others (${settings.map((o) => o.env).join(", ")}), or run \`pnpm dev\` (it writes .heliograph/dev.json)`,
      );
  });
  return { values: values as string[], source };
}

function httpUrl(url: string, what: string): string {
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`the ${what} must start with http:// or https://: ${url}`);
  return url.replace(/\/+$/, "");
}

/** `--stream-url`/`--subscriber-token`, then HELIOGRAPH_STREAM_URL/HELIOGRAPH_TOKEN, else dev.json's. */
export function resolveSubscriberConfig(
  flags: { streamUrl?: string; subscriberToken?: string },
  env: Env,
  cwd: string,
): SubscriberConfig {
  const { values, source } = resolveSettings(
    [
      {
        flag: flags.streamUrl,
        env: "HELIOGRAPH_STREAM_URL",
        dev: (d) => d.stream_url,
        what: "stream gateway URL (--stream-url)",
      },
      {
        flag: flags.subscriberToken,
        env: "HELIOGRAPH_TOKEN",
        dev: (d) => d.subscriber?.token,
        what: "subscriber token (--subscriber-token)",
      },
    ],
    env,
    cwd,
  );
  const [url, token] = values as [string, string];
  return { url: httpUrl(url, "stream gateway URL"), token, source };
}

/** `--ingest-url`/`--api-key`/`--api-secret`, then HELIOGRAPH_INGEST_URL/_API_KEY/_API_SECRET, else dev.json's. */
export function resolvePublisherConfig(
  flags: { ingestUrl?: string; apiKey?: string; apiSecret?: string },
  env: Env,
  cwd: string,
): PublisherConfig {
  const { values, source } = resolveSettings(
    [
      {
        flag: flags.ingestUrl,
        env: "HELIOGRAPH_INGEST_URL",
        dev: (d) => d.ingest_url,
        what: "ingest gateway URL (--ingest-url)",
      },
      { flag: flags.apiKey, env: "HELIOGRAPH_API_KEY", dev: (d) => d.publisher?.api_key, what: "API key (--api-key)" },
      {
        flag: flags.apiSecret,
        env: "HELIOGRAPH_API_SECRET",
        dev: (d) => d.publisher?.api_secret,
        what: "API secret (--api-secret)",
      },
    ],
    env,
    cwd,
  );
  const [url, apiKey, apiSecret] = values as [string, string, string];
  return { url: httpUrl(url, "ingest gateway URL"), apiKey, apiSecret, source };
}

/** `--url`/`--token`, then HELIOGRAPH_ADMIN_URL/HELIOGRAPH_ADMIN_TOKEN, else dev.json's (never mixed). */
export function resolveConfig(flags: { url?: string; token?: string }, env: Env, cwd: string): CliConfig {
  const { values, source } = resolveSettings(
    [
      { flag: flags.url, env: "HELIOGRAPH_ADMIN_URL", dev: (d) => d.admin_url, what: "admin API URL (--url)" },
      { flag: flags.token, env: "HELIOGRAPH_ADMIN_TOKEN", dev: (d) => d.admin_token, what: "admin token (--token)" },
    ],
    env,
    cwd,
  );
  const [url, token] = values as [string, string];
  return { url: httpUrl(url, "admin API URL"), token, source };
}
