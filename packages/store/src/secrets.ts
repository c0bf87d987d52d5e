import { createHash, timingSafeEqual } from "node:crypto";

/** SHA-256 of a secret; secrets are random 256-bit values, so this is a sufficient stored hash. */
export const secretDigest = (secret: string): Buffer => createHash("sha256").update(secret, "utf8").digest();

/** The stored form of a secret: its SHA-256, hex. */
export const secretHash = (secret: string): string => secretDigest(secret).toString("hex");

// Compared against when there is no stored hash (an unknown key or token), so a miss costs the same as a wrong secret.
const DUMMY_DIGEST = secretDigest("heliograph-dummy-secret");
const DIGEST_BYTES = DUMMY_DIGEST.length;

/**
 * The one comparison of a presented secret with a stored digest (publisher secrets, subscriber
 * tokens, the admin token). Both sides are SHA-256 digests, so `timingSafeEqual` always compares
 * 32 bytes whatever was sent; with no stored digest it compares against a dummy, so an unknown key
 * and a wrong secret take the same path. An object, so a test can count the calls.
 */
export const secretComparison = {
  matches(presented: string, stored: Buffer | undefined): boolean {
    const known = stored !== undefined && stored.length === DIGEST_BYTES;
    const equal = timingSafeEqual(secretDigest(presented), known ? stored : DUMMY_DIGEST);
    return known && equal;
  },
};

/** A stored hex digest as bytes; undefined when there is none. */
export const storedDigest = (hex: string | null | undefined): Buffer | undefined =>
  hex ? Buffer.from(hex, "hex") : undefined;
