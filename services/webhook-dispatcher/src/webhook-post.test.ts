import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postWebhook } from "./webhook-post.js";

let url: string;
let hits = 0;
const server = createServer((req, res) => {
  hits++;
  req.resume();
  res.statusCode = req.url === "/moved" ? 302 : 204;
  res.end();
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("postWebhook", () => {
  it("refuses to connect to a loopback address at delivery time without the flag", async () => {
    const before = hits;
    const outcome = await postWebhook(`${url}/hook`, {}, "{}", { timeoutMs: 2_000, allowPrivate: false });
    expect(outcome.status).toBeUndefined();
    expect(outcome.error).toMatch(/not a public address/);
    expect(hits).toBe(before);
  });

  it("refuses a host name that resolves to loopback, checked on the address it would connect to", async () => {
    const port = new URL(url).port;
    const outcome = await postWebhook(`http://localhost:${port}/hook`, {}, "{}", {
      timeoutMs: 2_000,
      allowPrivate: false,
    });
    expect(outcome.error).toMatch(/localhost resolves to .*not a public address/);
  });

  it("answers the receiver's status with the flag, and does not follow a redirect", async () => {
    expect((await postWebhook(`${url}/hook`, {}, "{}", { timeoutMs: 2_000, allowPrivate: true })).status).toBe(204);
    expect((await postWebhook(`${url}/moved`, {}, "{}", { timeoutMs: 2_000, allowPrivate: true })).status).toBe(302);
  });
});
