import { secretComparison } from "@heliograph/store";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../test/gateway-fixture.js";

let fx: GatewayFixture;
let token: string;
const STREAM = "ideas-tokens";

beforeAll(async () => {
  fx = await startGatewayFixture();
  token = await fx.tokenFor([STREAM]);
});
afterAll(async () => {
  await fx?.close();
});

/** Reads the stream with a bearer token and counts the secret comparisons the read made. */
async function read(bearer: string) {
  const spy = vi.spyOn(secretComparison, "matches");
  try {
    const res = await fetch(`${fx.url}/api/v1/stream/${STREAM}/`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, body: await res.text(), calls: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

// Promise 4 (docs/architecture.md): a token is found by its hash and then compared with the subscriber's stored
// one; an unknown token is compared with a dummy, so found or not, the path is the same.
describe("constant-time secrets: subscriber bearer tokens", () => {
  it("an unknown token, a near miss and the right token each make one comparison; misses answer the same 401", async () => {
    const unknown = await read("hgt_not-a-real-token");
    const nearMiss = await read(`${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`);
    const right = await read(token);
    expect([unknown.status, nearMiss.status, right.status]).toEqual([401, 401, 200]);
    expect(unknown.body).toBe(nearMiss.body);
    expect(JSON.parse(unknown.body).error.code).toBe("AUTH_INVALID");
    expect([unknown.calls, nearMiss.calls, right.calls]).toEqual([1, 1, 1]);
  });
});
