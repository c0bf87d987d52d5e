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

/**
 * Flags first, then HELIOGRAPH_ADMIN_URL / HELIOGRAPH_ADMIN_TOKEN; only when neither gives a URL
 * or a token, both come from `.heliograph/dev.json`. The two never come from different sources: a
 * token given on the command line is never sent to a URL some checked-out folder's dev.json names,
 * nor a dev.json's token to a URL given by hand.
 */
export function resolveConfig(
  flags: { url?: string; token?: string },
  env: Record<string, string | undefined>,
  cwd: string,
): CliConfig {
  let url = flags.url ?? env.HELIOGRAPH_ADMIN_URL;
  let token = flags.token ?? env.HELIOGRAPH_ADMIN_TOKEN;
  let source = "flags and environment";
  if (url === undefined && token === undefined) {
    const file = findDevJson(cwd);
    if (file) {
      let dev: { admin_url?: unknown; admin_token?: unknown };
      try {
        dev = JSON.parse(readFileSync(file, "utf8"));
      } catch (err) {
        throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
      }
      if (typeof dev.admin_url === "string") url = dev.admin_url;
      if (typeof dev.admin_token === "string") token = dev.admin_token;
      source = file;
    }
  }
  if (!url)
    throw new ConfigError(
      "no admin API URL: pass --url (or set HELIOGRAPH_ADMIN_URL) with the token, or run `pnpm dev` (it writes .heliograph/dev.json)",
    );
  if (!token)
    throw new ConfigError(
      "no admin token: pass --token (or set HELIOGRAPH_ADMIN_TOKEN) with the URL, or run `pnpm dev` (it writes .heliograph/dev.json)",
    );
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`the admin API URL must start with http:// or https://: ${url}`);
  return { url: url.replace(/\/+$/, ""), token, source };
}
