import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildOpenApiDocuments, documentText, renderApiReference } from "@heliograph/api-docs";
import { REPO_ROOT } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";

// The committed OpenAPI documents and the reference page are generated (pnpm api-docs); a route
// schema changed without them is a document that lies to its readers.

const read = (path: string) =>
  existsSync(join(REPO_ROOT, path)) ? readFileSync(join(REPO_ROOT, path), "utf8") : undefined;

describe("docs/openapi/ and docs/api-reference.md", () => {
  it("are exactly what the services' apps serve and the reference generated from it", async () => {
    const documents = await buildOpenApiDocuments();
    const stale: string[] = [];
    for (const { name, document } of documents) {
      const path = `docs/openapi/${name}.json`;
      if (read(path) !== documentText(document)) stale.push(path);
    }
    const expected = new Set(documents.map(({ name }) => `${name}.json`));
    for (const file of readdirSync(join(REPO_ROOT, "docs/openapi")))
      if (!expected.has(file)) stale.push(`docs/openapi/${file} (no listener serves it)`);
    if (read("docs/api-reference.md") !== renderApiReference(documents)) stale.push("docs/api-reference.md");
    expect(stale, `stale: run \`pnpm api-docs\` and commit what it writes`).toEqual([]);
  }, 120_000);
});
