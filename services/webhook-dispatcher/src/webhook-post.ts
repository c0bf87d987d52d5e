import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { isPublicAddress, publicOnlyLookup } from "@heliograph/platform";

/** What one POST to a receiver came to: its status, or why none came. */
export interface PostOutcome {
  status?: number;
  error?: string;
  latencyMs: number;
}

/** Bytes of a receiver's answer read at most: only its status matters, the rest is dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs `body` to `url` and waits for the status, `timeoutMs` at most (connection included).
 * Redirects are not followed (a 3xx is a failure: it could lead anywhere). Unless `allowPrivate`,
 * the connection goes only to public addresses, checked on the addresses the socket connects to.
 */
export function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; allowPrivate: boolean },
): Promise<PostOutcome> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: Omit<PostOutcome, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...outcome, latencyMs: latency() });
    };
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      settle({ error: "the URL is not valid" });
      return;
    }
    // An IP literal is connected to without a lookup, so it is checked here.
    const literal = target.hostname.replace(/^\[|\]$/g, "");
    if (!options.allowPrivate && isIP(literal) && !isPublicAddress(literal)) {
      settle({ error: `${literal} is not a public address` });
      return;
    }
    const client = target.protocol === "https:" ? https : http;
    const req = client.request(target, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      agent: false,
      ...(options.allowPrivate ? {} : { lookup: publicOnlyLookup }),
    });
    timer = setTimeout(() => {
      settle({ error: `no answer within ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on("response", (res) => {
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_ANSWER_BYTES) res.destroy();
      });
      res.on("error", () => {});
      res.on("close", () => settle({ status: res.statusCode ?? 0 }));
      res.on("end", () => settle({ status: res.statusCode ?? 0 }));
    });
    req.on("error", (err) => settle({ error: err.message }));
    req.end(body);
  });
}
