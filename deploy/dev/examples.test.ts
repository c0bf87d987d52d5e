import { readFileSync } from "node:fs";
import { join } from "node:path";
import { IdeaPublishRequest, ideaBodyProblems } from "@heliograph/contracts";
import { describe, expect, it } from "vitest";

const example = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, "examples", `${name}.json`), "utf8"));

// The README's idea walkthrough posts these files: they must stay valid publishes.
describe("README idea examples", () => {
  it.each([
    ["idea-open", "IdeaOpened"],
    ["idea-update", "IdeaUpdated"],
    ["idea-close", "IdeaClosed"],
    ["idea-race", "IdeaOpened"],
  ] as const)("%s is a valid %s body", (name, type) => {
    const body = IdeaPublishRequest.parse(example(name));
    expect(ideaBodyProblems(type, body)).toEqual([]);
  });

  it("open, update and close are one idea with increasing timestamps", () => {
    const [o, u, c] = ["idea-open", "idea-update", "idea-close"].map(example);
    expect(new Set([o.id, u.id, c.id]).size).toBe(1);
    expect(Date.parse(o.timestamp)).toBeLessThan(Date.parse(u.timestamp));
    expect(Date.parse(u.timestamp)).toBeLessThan(Date.parse(c.timestamp));
  });
});

describe("README TypeScript SDK example", () => {
  it("is deploy/dev/examples/sdk-quickstart.ts as it is (the pnpm dev test runs that file)", () => {
    const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
    const file = readFileSync(join(import.meta.dirname, "examples", "sdk-quickstart.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${file}\`\`\``);
  });
});
