/**
 * The shapes of the credentials Heliograph issues (packages/store `newApiKey`, `newSecret`). A
 * presented credential that does not have its shape is refused before any look-up, so traffic
 * with made-up keys costs a regular expression, never a read or a cache entry (promise 8).
 */
export const API_KEY_PREFIX = "hgk";
export const PUBLISHER_SECRET_PREFIX = "hgs";
export const SUBSCRIBER_TOKEN_PREFIX = "hgt";
export const ADMIN_TOKEN_PREFIX = "hga";

/** `hgk_` and 12 random bytes in hex. */
export const API_KEY_FORMAT = /^hgk_[0-9a-f]{24}$/;
/** `<prefix>_` and 32 random bytes in base64url (43 characters). */
const secretFormat = (prefix: string) => new RegExp(`^${prefix}_[A-Za-z0-9_-]{43}$`);
export const SUBSCRIBER_TOKEN_FORMAT = secretFormat(SUBSCRIBER_TOKEN_PREFIX);
/** `hga_` and 32 random bytes in base64url: what `newAdminToken()` and `heliograph admin-token` make. */
export const ADMIN_TOKEN_FORMAT = secretFormat(ADMIN_TOKEN_PREFIX);

/**
 * Well-formed admin tokens printed in this repository's documents and examples. Anyone can read
 * them, so a gateway refuses to start with one (a test keeps this list complete: every string of
 * the admin token's shape in a tracked file must be here).
 */
export const PUBLISHED_ADMIN_TOKENS: ReadonlySet<string> = new Set(["hga_EXAMPLE-ONLY-never-use-this-token-000000000"]);

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Bytes as unpadded base64url; Web Crypto and this keep the module free of Node built-ins. */
function base64url(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let c = 0; c < chars; c++) out += BASE64URL[(n >> (18 - 6 * c)) & 63];
  }
  return out;
}

/**
 * A new secret: `<prefix>_` and 256 random bits in base64url (43 characters). Publisher secrets,
 * subscriber tokens and the admin token share this shape, so each is stored as a SHA-256 and
 * compared the same way.
 */
export const newSecret = (prefix: string): string =>
  `${prefix}_${base64url(globalThis.crypto.getRandomValues(new Uint8Array(32)))}`;

/** A new admin token (the ingest gateway's `ADMIN_TOKEN`; `heliograph admin-token` prints one). */
export const newAdminToken = (): string => newSecret(ADMIN_TOKEN_PREFIX);
