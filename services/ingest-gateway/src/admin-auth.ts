import { HeliographError } from "@heliograph/contracts";
import { secretComparison, secretDigest } from "@heliograph/store";
import type { FastifyRequest } from "fastify";

/**
 * onRequest hook of the admin API: `Authorization: Bearer <ADMIN_TOKEN>`, compared as every
 * secret is (`secretComparison`: digests of equal length, constant time).
 */
export function adminAuthHook(adminToken: string) {
  const expected = secretDigest(adminToken);
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S{1,1024})\s*$/i.exec(header) : null;
    if (!match) throw new HeliographError("AUTH_MISSING", { message: "Send Authorization: Bearer <admin token>" });
    if (!secretComparison.matches(match[1] as string, expected)) {
      throw new HeliographError("AUTH_INVALID", { message: "The admin token is not valid" });
    }
  };
}
