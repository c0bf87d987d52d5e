import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN_FORMAT, newAdminToken, newSecret, SUBSCRIBER_TOKEN_FORMAT } from "./credentials.js";

describe("newSecret", () => {
  it("is the prefix and 32 random bytes in unpadded base64url, as Node encodes them", () => {
    for (let i = 0; i < 200; i++) {
      const secret = newSecret("hgt");
      expect(secret).toMatch(SUBSCRIBER_TOKEN_FORMAT);
      const bytes = Buffer.from(secret.slice(4), "base64url");
      expect(bytes).toHaveLength(32);
      expect(bytes.toString("base64url")).toBe(secret.slice(4));
    }
  });

  it("never repeats", () => {
    const made = new Set(Array.from({ length: 1_000 }, () => newSecret("hgs")));
    expect(made.size).toBe(1_000);
  });

  it("makes admin tokens of the form the gateway requires", () => {
    expect(newAdminToken()).toMatch(ADMIN_TOKEN_FORMAT);
  });
});
