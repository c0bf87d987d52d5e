import { connect } from "node:net";
import type { HostileStack } from "./hostile-stack.js";

/**
 * HTTP/1.1 over a bare socket, so a test can send what fetch and node:http refuse to: raw paths
 * (`../`, `%00`), duplicate headers, control characters, bodies that lie about their length, and
 * requests trickled byte by byte.
 */
export interface RawRequest {
  method: string;
  /** Sent as is on the request line. */
  path: string;
  /** In order; a name may repeat. `Host` and `Connection: close` are added unless given. */
  headers?: [string, string][];
  body?: string | Buffer;
  /** Adds a Content-Length matching the body (default true when there is a body). */
  contentLength?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
}

export function encodeRequest(req: RawRequest): Buffer {
  const headers = [...(req.headers ?? [])];
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  if (!has("host")) headers.unshift(["Host", "127.0.0.1"]);
  if (!has("connection")) headers.push(["Connection", "close"]);
  let body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, "utf8");
  if (body && headers.some(([n, v]) => n.toLowerCase() === "transfer-encoding" && /chunked/i.test(v))) {
    // Framed as the header says, in chunks of up to 1 000 bytes.
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += 1_000) {
      const part = body.subarray(i, i + 1_000);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n"));
    }
    chunks.push(Buffer.from("0\r\n\r\n"));
    body = Buffer.concat(chunks);
  }
  if (body && req.contentLength !== false && !has("content-length") && !has("transfer-encoding")) {
    headers.push(["Content-Length", String(body.length)]);
  }
  // Header values are written as latin1, byte for byte, as a hostile client would.
  const head = Buffer.from(
    `${req.method} ${req.path} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`,
    "latin1",
  );
  return body ? Buffer.concat([head, body]) : head;
}

/** Sends the bytes (all at once, or `chunkBytes` at a time every `delayMs`) and reads the answer until the server closes. */
export function rawRequest(
  port: number,
  request: RawRequest | Buffer,
  options: { delayMs?: number; chunkBytes?: number; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const bytes = Buffer.isBuffer(request) ? request : encodeRequest(request);
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer in ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", (err) => {
      // The server may answer and close before the whole request was written (e.g. 413): keep the answer.
      if (chunks.length === 0) {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    socket.on("connect", async () => {
      if (!options.delayMs) {
        socket.write(bytes);
        return;
      }
      const step = options.chunkBytes ?? 1;
      for (let i = 0; i < bytes.length && !socket.destroyed; i += step) {
        socket.write(bytes.subarray(i, i + step));
        await new Promise((r) => setTimeout(r, options.delayMs));
      }
    });
  });
}

export function parseResponse(raw: Buffer): RawResponse {
  // Interim answers (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(raw.subarray(0, 13).toString("latin1"))) {
    const interimEnd = raw.indexOf("\r\n\r\n");
    if (interimEnd < 0) break;
    raw = raw.subarray(interimEnd + 4);
  }
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no complete response head: ${JSON.stringify(raw.toString("latin1").slice(0, 200))}`);
  const [statusLine, ...lines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1]);
  if (!status) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = raw.subarray(end + 4);
  if (headers["transfer-encoding"]?.includes("chunked")) body = dechunk(body);
  else if (headers["content-length"] !== undefined) body = body.subarray(0, Number(headers["content-length"]));
  const text = body.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers, body: text, json };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
    if (!size) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** Raw headers of publisher A's credentials and a JSON body, as a hostile stack seeds them. */
export const publisherHeaders = (stack: HostileStack): [string, string][] => [
  ["API-KEY", stack.a.api_key],
  ["API-SECRET", stack.a.api_secret],
  ["Content-Type", "application/json"],
];

/** The raw header of the entitled subscriber's bearer token. */
export const bearerHeaders = (stack: HostileStack): [string, string][] => [
  ["Authorization", `Bearer ${stack.subscriber.token}`],
];
