import { describe, expect, it } from "vitest";
import { isPublicAddress, nonPublicTarget } from "./public-address.js";

describe("isPublicAddress", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
  ])("refuses %s", (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])("accepts %s", (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });
});

describe("nonPublicTarget", () => {
  it("names the loopback address of a URL on 127.0.0.1 and localhost", async () => {
    expect(await nonPublicTarget("http://127.0.0.1:9/hook")).toMatch(/127\.0\.0\.1/);
    expect(await nonPublicTarget("http://localhost:9/hook")).toMatch(/not a public address/);
    expect(await nonPublicTarget("http://[::1]:9/hook")).toMatch(/::1/);
  });

  it("accepts a URL on a public IP literal", async () => {
    expect(await nonPublicTarget("https://8.8.8.8/hook")).toBeUndefined();
  });
});
