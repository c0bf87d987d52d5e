import { connect, type Socket } from "node:net";
import { waitFor } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HostileStack, startHostileStack } from "./hostile-stack.js";
import { bearerHeaders, encodeRequest, parseResponse, publisherHeaders, rawRequest } from "./raw-http.js";

// Clients that hold a connection without finishing their request: the time to send the head, the
// time to send the whole request and the connections a process keeps open are bounded by
// configuration (promise 8). raw-protocol.test.ts shows slow but honest clients are still served;
// here the bounds are small so that crossing them takes a second or two.
const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
const MAX_CONNECTIONS = 16;

let stack: HostileStack;
let ingestPort: number;
let streamPort: number;
beforeAll(async () => {
  stack = await startHostileStack({
    services: ["ingest-gateway", "stream-gateway"],
    env: {
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    },
  });
  ingestPort = stack.services["ingest-gateway"]?.port as number;
  streamPort = stack.services["stream-gateway"]?.port as number;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const publisher = () => publisherHeaders(stack);
const bearer = () => bearerHeaders(stack);

/** A socket the test writes to at its own pace; `closed` resolves with what the server sent once it closes. */
interface Held {
  socket: Socket;
  closed: Promise<Buffer>;
  isClosed: () => boolean;
}

function hold(port: number): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const closed = new Promise<Buffer>((resolveClosed) => {
      socket.on("data", (c) => chunks.push(c));
      // A reset after the server gave up is a close like any other here.
      socket.on("error", () => {});
      socket.on("close", () => {
        done = true;
        resolveClosed(Buffer.concat(chunks));
      });
    });
    socket.once("connect", () => resolve({ socket, closed, isClosed: () => done }));
    socket.once("error", reject);
  });
}

/** Closed by the server within `timeoutMs`, after answering 408 REQUEST_TIMEOUT. */
async function expectCutOff(held: Held, timeoutMs: number): Promise<void> {
  await waitFor(async () => held.isClosed(), { timeoutMs, what: "the server to close the connection" });
  const res = parseResponse(await held.closed);
  expect(res.status, res.body).toBe(408);
  expect((res.json as { error: { code: string } }).error.code).toBe("REQUEST_TIMEOUT");
  expect(res.headers.connection).toBe("close");
}

describe("slow clients are cut off", () => {
  it("a connection that sends half a request head and then nothing is closed at the headers timeout", async () => {
    const before = await stack.ingestMessages();
    const head = encodeRequest({ method: "POST", path: "/api/v1/create_trading_signal", headers: publisher() });
    const held = await hold(ingestPort);
    held.socket.write(head.subarray(0, Math.floor(head.length / 2)));
    // Well within Node's own defaults (60 s for the head, checked every 30 s) and the 72 s
    // keep-alive timeout: only the configured bound closes it this soon.
    await expectCutOff(held, HEADERS_TIMEOUT_MS + 4_000);
    expect(await stack.ingestMessages()).toBe(before);
  }, 15_000);

  it("a connection that never sends a byte is closed at the headers timeout too", async () => {
    const held = await hold(streamPort);
    await expectCutOff(held, HEADERS_TIMEOUT_MS + 4_000);
  }, 15_000);

  it("a head trickled a byte every 200 ms is cut off at the headers timeout, though bytes keep coming", async () => {
    const head = encodeRequest({ method: "GET", path: "/api/v1/stream/algorithm-1/-1/10", headers: bearer() });
    const held = await hold(streamPort);
    let sent = 0;
    // Never the blank line that ends the head: it would take 200 ms × its length to get there.
    const trickle = setInterval(() => {
      if (!held.isClosed() && sent < head.length - 4) held.socket.write(head.subarray(sent, ++sent));
    }, 200);
    try {
      await expectCutOff(held, HEADERS_TIMEOUT_MS + 4_000);
    } finally {
      clearInterval(trickle);
    }
  }, 15_000);

  it("a body trickled a byte every 200 ms (Content-Length 1000) is cut off at the request timeout", async () => {
    const before = await stack.ingestMessages();
    const head = encodeRequest({
      method: "POST",
      path: "/api/v1/create_trading_signal",
      headers: [...publisher(), ["Content-Length", "1000"]],
    });
    const held = await hold(ingestPort);
    held.socket.write(head);
    let sent = 0;
    const trickle = setInterval(() => {
      if (!held.isClosed() && sent < 1000) {
        held.socket.write(sent === 0 ? "{" : " ");
        sent++;
      }
    }, 200);
    try {
      // The whole body would take 200 s; it is cut off at the 2 s bound, not after it.
      await expectCutOff(held, REQUEST_TIMEOUT_MS + 4_000);
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeLessThan(1000);
    expect(await stack.ingestMessages()).toBe(before);
    await stack.assertAlive();
  }, 15_000);
});

describe("what the bounds leave alone", () => {
  it("a long poll held longer than the request timeout still answers normally", async () => {
    // The request timeout bounds receiving the request, not the answer: this one is held 4 s,
    // twice the 2 s bound (nothing is sequenced here, so it ends empty at its X-Long-Poll).
    const started = Date.now();
    const res = await rawRequest(
      streamPort,
      { method: "GET", path: "/api/v1/stream/algorithm-1/-1/10", headers: [...bearer(), ["X-Long-Poll", "4"]] },
      { timeoutMs: 15_000 },
    );
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS + 1_000);
  }, 20_000);

  it("a keep-alive connection idle between requests is not cut off by the headers timeout", async () => {
    const conn = await keepAlive(streamPort);
    expect((await conn.get("/healthz")).status).toBe(200);
    // Idle past the headers bound, then a second request on the same connection.
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS + 1_500));
    expect((await conn.get("/healthz")).status).toBe(200);
    conn.socket.destroy();
  }, 15_000);
});

describe("connections per process", () => {
  it("beyond MAX_CONNECTIONS new connections are closed unanswered, and the open ones keep working", async () => {
    const open: KeepAlive[] = [];
    let refused = false;
    // Each connection is answered once and then held idle (keep-alive), so it keeps its slot.
    // Connections of the harness's own HTTP client may hold a slot or two too, hence the range.
    while (!refused && open.length < MAX_CONNECTIONS + 5) {
      const conn = await keepAlive(streamPort);
      const res = await conn.get("/healthz").catch(() => undefined);
      if (res === undefined) {
        await conn.closed;
        expect(conn.received()).toBe(0);
        refused = true;
      } else {
        expect(res.status).toBe(200);
        open.push(conn);
      }
    }
    expect(refused).toBe(true);
    expect(open.length).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open.length).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 2);

    // The connections already open are still served, a long poll included.
    for (const conn of open) expect((await conn.get("/healthz")).status).toBe(200);
    const metrics = await open[0]?.get("/metrics");
    const dropped = /^heliograph_http_connections_dropped_total(?:\{[^}]*\})?\s+(\d+)/m.exec(metrics?.body ?? "")?.[1];
    expect(Number(dropped)).toBeGreaterThanOrEqual(1);
    const poll = await open[0]?.get("/api/v1/stream/algorithm-1/-1/10", [...bearer(), ["X-Long-Poll", "0"]]);
    expect(poll?.status, poll?.body).toBe(200);

    // A slot freed is a slot taken again.
    for (const conn of open) conn.socket.destroy();
    await waitFor(
      async () => {
        const res = await rawRequest(streamPort, { method: "GET", path: "/healthz" }, { timeoutMs: 2_000 }).catch(
          () => undefined,
        );
        return res?.status === 200;
      },
      { timeoutMs: 10_000, what: "a new connection to be served once the others closed" },
    );
    await stack.assertAlive();
  }, 30_000);
});

interface KeepAlive {
  socket: Socket;
  closed: Promise<void>;
  received: () => number;
  get(path: string, headers?: [string, string][]): Promise<ReturnType<typeof parseResponse>>;
}

/** One connection kept open across requests; answers are read by their Content-Length. */
async function keepAlive(port: number): Promise<KeepAlive> {
  const socket = connect(port, "127.0.0.1");
  let buffer = Buffer.alloc(0);
  let total = 0;
  let isClosed = false;
  let waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  const settle = () => {
    if (!waiting) return;
    const end = buffer.indexOf("\r\n\r\n");
    if (end < 0) return;
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(buffer.subarray(0, end).toString("latin1"))?.[1] ?? 0);
    if (buffer.length < end + 4 + length) return;
    const answer = buffer.subarray(0, end + 4 + length);
    buffer = buffer.subarray(end + 4 + length);
    const w = waiting;
    waiting = undefined;
    w.resolve(answer);
  };
  socket.on("data", (c) => {
    total += c.length;
    buffer = Buffer.concat([buffer, c]);
    settle();
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    isClosed = true;
    waiting?.reject(new Error("closed by the server"));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return {
    socket,
    closed,
    received: () => total,
    get: (path, headers = []) =>
      new Promise((resolve, reject) => {
        if (isClosed) return reject(new Error("closed by the server"));
        waiting = { resolve: (b) => resolve(parseResponse(b)), reject };
        socket.write(encodeRequest({ method: "GET", path, headers: [...headers, ["Connection", "keep-alive"]] }));
      }),
  };
}
