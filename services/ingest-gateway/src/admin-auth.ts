import { createHash, timingSafeEqual } from "node:crypto";
import { HeliographError } from "@heliograph/contracts";
import type { FastifyRequest } from "fastify";

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * onRequest hook of the admin API: `Authorization: Bearer <ADMIN_TOKEN>`. Both sides are hashed
 * first so the comparison is constant time whatever the length of what was sent.
 */
export function adminAuthHook(adminToken: string) {
  const expected = sha256(adminToken);
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S{1,1024})\s*$/i.exec(header) : null;
    if (!match) throw new HeliographError("AUTH_MISSING", { message: "Send Authorization: Bearer <admin token>" });
    if (!timingSafeEqual(sha256(match[1] as string), expected)) {
      throw new HeliographError("AUTH_INVALID", { message: "The admin token is not valid" });
    }
  };
}
