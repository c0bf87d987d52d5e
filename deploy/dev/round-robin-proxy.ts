/**
 * The local cluster's front (`pnpm cluster`): one port that spreads requests round-robin over the
 * instances of one gateway, as the nginx edge of deploy/compose does in production. Bodies stream
 * both ways (a long poll held 30 s, a waited publish, an SSE stream all pass through as they
 * come); every request header goes through unchanged (API-KEY, API-SECRET, Authorization).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ERROR_CODES, type ErrorBody } from "@heliograph/contracts";

/** The response header naming the instance that answered, so a user sees the spread. */
export const INSTANCE_HEADER = "x-heliograph-instance";

export interface ProxyTarget {
  /** Shown in the X-Heliograph-Instance header, e.g. `ingest-gateway-2`. */
  name: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

export interface RoundRobinProxy {
  url: string;
  port: number;
  /** Requests answered by each target so far, by name. */
  answered: Record<string, number>;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection, not to the request: node sets its own.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = String(headers.connection ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase());
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.includes(name)));
}

/**
 * Listens on `port` (default: any free one) on `host` (default 127.0.0.1) and forwards each request
 * to the next target in turn. A target that refuses the connection is skipped for the next one;
 * only a refused connection is retried (the request never reached it), never one that failed after
 * it was sent, so a publish is never sent twice. When every target refuses: 502
 * NO_INSTANCE_ANSWERED in the house error body.
 */
export async function startRoundRobinProxy(options: {
  /** What stands behind it, for the 502's message: `ingest-gateway`. */
  name: string;
  targets: ProxyTarget[];
  port?: number;
  host?: string;
}): Promise<RoundRobinProxy> {
  const { targets } = options;
  if (targets.length === 0) throw new Error(`the ${options.name} front needs at least one target`);
  const answered: Record<string, number> = Object.fromEntries(targets.map((t) => [t.name, 0]));
  let next = 0;

  const refuse = (res: ServerResponse) => {
    const body: ErrorBody = {
      error: {
        code: "NO_INSTANCE_ANSWERED",
        message: `No ${options.name} instance answered (${targets.map((t) => t.name).join(", ")} refused the connection)`,
        details: [],
      },
    };
    res.writeHead(ERROR_CODES.NO_INSTANCE_ANSWERED.status, {
      "content-type": "application/json; charset=utf-8",
      "retry-after": "1",
    });
    res.end(JSON.stringify(body));
  };

  const forward = (req: IncomingMessage, res: ServerResponse, first: number, attempt: number) => {
    if (attempt >= targets.length) return refuse(res);
    const target = targets[(first + attempt) % targets.length] as ProxyTarget;
    const { hostname, port } = new URL(target.url);
    const upstream = request({
      hostname,
      port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      // A fresh connection per request: a refused connect then always means "not sent", and no
      // pooled socket to a killed instance is ever reused.
      agent: false,
    });
    let connected = false;
    upstream.once("socket", (socket) => {
      socket.once("connect", () => {
        connected = true;
        // The body is read only once a target has accepted the connection, so it is still
        // whole when a refusing target is skipped.
        req.pipe(upstream);
      });
    });
    upstream.once("response", (answer) => {
      answered[target.name] = (answered[target.name] ?? 0) + 1;
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, {
        ...endToEnd(answer.headers),
        [INSTANCE_HEADER]: target.name,
      });
      answer.pipe(res);
      answer.once("error", () => res.destroy());
      // A gateway that dies mid-answer: the client sees a cut connection, as it would without a front.
      answer.once("aborted", () => res.destroy());
    });
    upstream.once("error", (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === "ECONNREFUSED") return forward(req, res, first, attempt + 1);
      if (res.headersSent) res.destroy();
      else refuse(res);
    });
    // The client went away (a long poll given up): the gateway drops its waiter at once.
    res.once("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  };

  const server = createServer((req, res) => {
    const first = next;
    next = (next + 1) % targets.length;
    forward(req, res, first, 0);
  });
  // Long polls (up to 60 s) and waited publishes (30 s) are held by the gateway, not here.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Held long polls and idle keep-alive connections would keep close() waiting.
        server.closeAllConnections();
      }),
  };
}
