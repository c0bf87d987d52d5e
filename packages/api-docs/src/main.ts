/**
 * `pnpm api-docs`: writes each listener's OpenAPI document to `docs/openapi/<name>.json` and the API
 * reference built from them to `docs/api-reference.md` (starts its own nats-server and redis-server).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@heliograph/testkit";
import { renderApiReference } from "./api-reference.js";
import { buildOpenApiDocuments, documentText } from "./openapi-documents.js";

const documents = await buildOpenApiDocuments();
const folder = join(REPO_ROOT, "docs", "openapi");
mkdirSync(folder, { recursive: true });
const names = new Set(documents.map((d) => `${d.name}.json`));
// A listener that is gone leaves no document behind.
for (const file of readdirSync(folder)) if (file.endsWith(".json") && !names.has(file)) rmSync(join(folder, file));
for (const { name, document } of documents) writeFileSync(join(folder, `${name}.json`), documentText(document));
writeFileSync(join(REPO_ROOT, "docs/api-reference.md"), renderApiReference(documents));
console.log(`wrote docs/openapi/{${documents.map((d) => d.name).join(",")}}.json and docs/api-reference.md`);
