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
