import { describe, expect, it } from "vitest";
import { secretComparison, secretDigest, secretHash, storedDigest } from "./secrets.js";

describe("secretComparison.matches", () => {
  const stored = storedDigest(secretHash("hgs_right"));

  it("is true only for the secret whose digest is stored", () => {
    expect(secretComparison.matches("hgs_right", stored)).toBe(true);
    expect(secretComparison.matches("hgs_wrong", stored)).toBe(false);
    expect(secretComparison.matches("", stored)).toBe(false);
    expect(secretComparison.matches("x".repeat(10_000), stored)).toBe(false);
  });

  it("is false, without throwing, when nothing or something malformed is stored", () => {
    expect(secretComparison.matches("hgs_right", undefined)).toBe(false);
    expect(secretComparison.matches("hgs_right", storedDigest(null))).toBe(false);
    expect(secretComparison.matches("hgs_right", Buffer.from("abcd", "hex"))).toBe(false);
  });

  it("never matches the dummy it compares against when nothing is stored", () => {
    expect(secretComparison.matches("heliograph-dummy-secret", undefined)).toBe(false);
    expect(secretDigest("heliograph-dummy-secret")).toHaveLength(32);
  });
});
