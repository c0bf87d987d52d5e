import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import { HeliographError } from "@heliograph/contracts";
import type { FastifyPluginAsync } from "fastify";

/** Where the console is served on the admin listener. */
export const CONSOLE_PREFIX = "/console/";

/**
 * Served to the console's files: scripts and styles only from the console itself, calls only to
 * this origin (the admin API), no framing. The page handles an admin token; nothing else may run in it.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The operators' web console (packages/console, built into `dir`) at `/console/`. Register it on
 * the admin app only: the public listener never serves it. Its files are public (no token in them);
 * every call the page makes goes to the admin API with the operator's bearer token.
 */
export function consoleFiles(dir: string): FastifyPluginAsync {
  return async (app) => {
    if (!existsSync(join(dir, "index.html"))) {
      const notBuilt = async () => {
        throw new HeliographError("CONSOLE_NOT_BUILT", {
          details: [{ path: "CONSOLE_DIR", message: `${dir} holds no index.html` }],
        });
      };
      app.get("/console", notBuilt);
      app.get(`${CONSOLE_PREFIX}*`, notBuilt);
      return;
    }
    app.get("/console", async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 301));
    await app.register(fastifyStatic, {
      root: dir,
      prefix: CONSOLE_PREFIX,
      index: "index.html",
      setHeaders: (reply) => {
        reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
        reply.header("x-content-type-options", "nosniff");
        reply.header("referrer-policy", "no-referrer");
        // Rebuilt files keep their names: revalidate every time rather than run a stale page.
        reply.header("cache-control", "no-cache");
      },
    });
  };
}
