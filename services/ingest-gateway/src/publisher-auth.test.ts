import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { secretComparison } from "@heliograph/store";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestGateway, type TestGateway } from "../test/test-gateway.js";

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Sends one request and counts the secret comparisons it made. */
async function comparisonsOf(send: () => Promise<{ statusCode: number; body: string }>) {
  const spy = vi.spyOn(secretComparison, "matches");
  const res = await send();
  const calls = spy.mock.calls.length;
  spy.mockRestore();
  return { status: res.statusCode, body: res.body, calls };
}

// Promise 4 (docs/architecture.md): secrets compared in constant time. Timing cannot be asserted on a shared
// machine; what can is that a miss and a wrong secret take the same path to the same answer.
describe("constant-time secrets: an unknown key and a wrong secret take the same path", () => {
  const publish = (apiKey: string, apiSecret: string) => () =>
    gw.app.inject({
      method: "POST",
      url: "/api/v1/create_trading_signal",
      headers: { "API-KEY": apiKey, "API-SECRET": apiSecret },
      payload: DOCUMENT_TRADING_SIGNAL_BODY,
    });

  it("publishers: one comparison each, and the identical 401 body", async () => {
    const wrongSecret = `${gw.a.api_secret.slice(0, -1)}x`;
    const unknownKey = await comparisonsOf(publish("hgk_000000000000000000000000", gw.a.api_secret));
    const wrong = await comparisonsOf(publish(gw.a.api_key, wrongSecret));
    const right = await comparisonsOf(publish(gw.a.api_key, gw.a.api_secret));
    expect(unknownKey.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(unknownKey.body).toBe(wrong.body);
    expect(JSON.parse(wrong.body).error.code).toBe("AUTH_INVALID");
    expect([unknownKey.calls, wrong.calls, right.calls]).toEqual([1, 1, 1]);
    expect(right.status).toBe(202);
  });

  it("the admin token: one comparison for a wrong token of any length, and the identical 401 body", async () => {
    const admin = (token: string) => () =>
      gw.admin.inject({ method: "GET", url: "/admin/v1/publishers", headers: { authorization: `Bearer ${token}` } });
    const short = await comparisonsOf(admin("x"));
    const sameLength = await comparisonsOf(admin(`${gw.adminToken.slice(0, -1)}x`));
    const right = await comparisonsOf(admin(gw.adminToken));
    expect([short.status, sameLength.status, right.status]).toEqual([401, 401, 200]);
    expect(short.body).toBe(sameLength.body);
    expect([short.calls, sameLength.calls, right.calls]).toEqual([1, 1, 1]);
  });
});
