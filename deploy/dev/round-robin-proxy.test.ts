import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ErrorBody } from "@heliograph/contracts";
import { freePort } from "@heliograph/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { INSTANCE_HEADER, type RoundRobinProxy, startRoundRobinProxy } from "./round-robin-proxy.js";

// Real HTTP servers behind the real proxy: each answers with its name, the headers and the body
// it received; /hold writes a first chunk and the rest only when the test releases it.
interface Instance {
  name: string;
  url: string;
  server: Server;
  release: () => void;
  holding: Promise<void>;
  /** Resolves when the connection of a held request closes (the client, through the proxy, gave up). */
  heldClosed: Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startInstance(name: string): Promise<Instance> {
  let release = () => {};
  let held = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const holding = new Promise<void>((resolve) => {
    held = resolve;
  });
  let closed = () => {};
  const heldClosed = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const server = createServer((req, res) => {
    if (req.url === "/hold") {
      res.once("close", closed);
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first;");
      held();
      void released.then(() => res.end("second"));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(201, { "content-type": "application/json", "x-upstream": name });
      res.end(
        JSON.stringify({
          name,
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const instance = {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    release,
    holding,
    heldClosed,
  };
  cleanups.push(() => stopInstance(instance));
  return instance;
}

const stopInstance = (instance: Instance) =>
  new Promise<void>((resolve) => {
    instance.release();
    instance.server.close(() => resolve());
    instance.server.closeAllConnections();
  });

async function front(instances: Instance[]): Promise<RoundRobinProxy> {
  const proxy = await startRoundRobinProxy({
    name: "test-gateway",
    targets: instances.map(({ name, url }) => ({ name, url })),
  });
  cleanups.push(() => proxy.close());
  return proxy;
}

describe("round-robin proxy", () => {
  it("spreads requests over the instances in turn and forwards method, path, headers and body", async () => {
    const instances = await Promise.all(["a", "b", "c"].map(startInstance));
    const proxy = await front(instances);
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${proxy.url}/api/v1/create_trading_signal?x=${i}`, {
        method: "POST",
        headers: {
          "API-KEY": "hgk_key",
          "API-SECRET": "hgs_secret",
          authorization: "Bearer hgt_token",
          "content-type": "application/json",
        },
        body: JSON.stringify({ i }),
      });
      expect(res.status).toBe(201);
      const echo = (await res.json()) as {
        name: string;
        method: string;
        url: string;
        headers: Record<string, string>;
        body: string;
      };
      expect(res.headers.get(INSTANCE_HEADER)).toBe(echo.name);
      expect(res.headers.get("x-upstream")).toBe(echo.name);
      expect(echo).toMatchObject({
        method: "POST",
        url: `/api/v1/create_trading_signal?x=${i}`,
        body: JSON.stringify({ i }),
      });
      expect(echo.headers).toMatchObject({
        "api-key": "hgk_key",
        "api-secret": "hgs_secret",
        authorization: "Bearer hgt_token",
        "content-type": "application/json",
      });
      seen.push(echo.name);
    }
    expect(seen).toEqual(["a", "b", "c", "a", "b", "c"]);
    expect(proxy.answered).toEqual({ a: 2, b: 2, c: 2 });
  });

  it("skips an instance that refuses the connection, and answers 502 in the house error body when all do", async () => {
    const instances = await Promise.all(["a", "b"].map(startInstance));
    const proxy = await front(instances);
    await stopInstance(instances[0] as Instance);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${proxy.url}/x`, { method: "POST", body: `body ${i}` });
      expect(res.status).toBe(201);
      // The body was not used up by the refused attempt.
      expect(await res.json()).toMatchObject({ name: "b", body: `body ${i}` });
    }
    await stopInstance(instances[1] as Instance);
    const res = await fetch(`${proxy.url}/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = ErrorBody.parse(await res.json());
    expect(body.error.code).toBe("NO_INSTANCE_ANSWERED");
    expect(body.error.message).toContain("test-gateway");
  });

  it("streams a held answer through as it comes, without buffering it", async () => {
    const [a] = await Promise.all([startInstance("a")]);
    const instance = a as Instance;
    const proxy = await front([instance]);
    const res = await fetch(`${proxy.url}/hold`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    // The first chunk arrives while the instance still holds the rest.
    await instance.holding;
    let text = "";
    while (!text.includes("first;")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the answer ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe("first;");
    instance.release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe("first;second");
  });

  it("drops the held request at the instance when the client goes away", async () => {
    const instance = await startInstance("a");
    const proxy = await front([instance]);
    const client = new AbortController();
    const res = await fetch(`${proxy.url}/hold`, { signal: client.signal });
    expect(res.status).toBe(200);
    await instance.holding;
    client.abort();
    // Resolves only if the proxy closed its connection to the instance.
    await instance.heldClosed;
  });

  it("listens on the port it is given", async () => {
    const instance = await startInstance("a");
    const port = await freePort();
    const proxy = await startRoundRobinProxy({ name: "test-gateway", targets: [instance], port });
    cleanups.push(() => proxy.close());
    expect(proxy.url).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${proxy.url}/`)).headers.get(INSTANCE_HEADER)).toBe("a");
  });
});
