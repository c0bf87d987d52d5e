import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, type ErrorCode } from "@heliograph/contracts";
import { REPO_ROOT } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";

const doc = readFileSync(join(REPO_ROOT, "docs/errors.md"), "utf8");
const sections = new Map<string, string>();
for (const part of doc.split(/^## /m).slice(1)) {
  const [heading = "", ...body] = part.split("\n");
  sections.set(heading.trim(), body.join("\n"));
}

describe("docs/errors.md", () => {
  it.each(Object.keys(ERROR_CODES) as ErrorCode[])("documents %s with its HTTP status", (code) => {
    const section = sections.get(code);
    expect(section, `docs/errors.md has no "## ${code}" section`).toBeDefined();
    expect(section).toContain(`HTTP ${ERROR_CODES[code].status}`);
  });

  it("documents no code that does not exist", () => {
    expect([...sections.keys()].filter((heading) => !(heading in ERROR_CODES))).toEqual([]);
  });
});
