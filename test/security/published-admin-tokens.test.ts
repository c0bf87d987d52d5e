import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_TOKEN_FORMAT, PUBLISHED_ADMIN_TOKENS } from "@heliograph/contracts";
import { REPO_ROOT } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";

// An admin token printed in a document or an example is known to everyone who reads the
// repository; a deployment copying it would run with a public admin token. The ingest gateway
// refuses every token in PUBLISHED_ADMIN_TOKENS at start; this keeps that list complete.

const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
  cwd: REPO_ROOT,
  encoding: "utf8",
})
  .split("\0")
  .filter((file) => file !== "" && file !== "pnpm-lock.yaml" && existsSync(join(REPO_ROOT, file)));

/** Every string of the admin token's shape, not part of a longer word. */
const TOKEN_SHAPED = new RegExp(`(?<![A-Za-z0-9_-])${ADMIN_TOKEN_FORMAT.source.slice(1, -1)}(?![A-Za-z0-9_-])`, "g");

describe("admin tokens printed in the repository", () => {
  it("finds the example token (the scan works)", () => {
    const found = readFileSync(join(REPO_ROOT, "deploy/compose/heliograph.env.example"), "utf8").match(TOKEN_SHAPED);
    expect(found).not.toBeNull();
  });

  it("are each refused by the gateway (listed in PUBLISHED_ADMIN_TOKENS)", () => {
    const unlisted: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(REPO_ROOT, file), "utf8");
      for (const token of text.match(TOKEN_SHAPED) ?? [])
        if (!PUBLISHED_ADMIN_TOKENS.has(token)) unlisted.push(`${file}: ${token}`);
    }
    expect(unlisted).toEqual([]);
  });
});
