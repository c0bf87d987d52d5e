import { randomBytes } from "node:crypto";

/**
 * A new secret: `<prefix>_` and 256 random bits in base64url. Publisher secrets, subscriber tokens
 * and the admin token share this shape, so each is stored as a SHA-256 and compared the same way.
 */
export const newSecret = (prefix: string): string => `${prefix}_${randomBytes(32).toString("base64url")}`;

/** A new admin token (the ingest gateway's `ADMIN_TOKEN`), for the stacks tests, the benchmark and `pnpm dev` start. */
export const newAdminToken = (): string => newSecret("hga");
