import { relative } from "node:path";
import { describe, expect, it } from "vitest";
import { renderApiReference, typeText } from "./api-reference.js";
import { normalizedDocument } from "./openapi-documents.js";
import type { OpenApiDocument } from "./openapi-types.js";

/** How the reference links the errors page (it lives beside it in docs/). */
const ERRORS_PAGE = relative("docs", "docs/errors.md");

const document: OpenApiDocument = {
  openapi: "3.0.3",
  info: { title: "Heliograph test-service", version: "0.1.0" },
  components: { securitySchemes: { token: { type: "http", scheme: "bearer", description: "a bearer token" } } },
  security: [{ token: [] }],
  paths: {
    "/b/{id}": {
      post: {
        summary: "Change a thing",
        description: "Into the stream things-<id>, as `things-<id>` says.",
        tags: ["things"],
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", maxLength: 8 } }],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["size"],
                properties: {
                  size: { type: "integer", minimum: 1, maximum: 9 },
                  inner: { type: "object", properties: { x: { type: "boolean" } } },
                },
              },
            },
          },
        },
        responses: {
          "200": {
            description: "Default Response",
            content: { "application/json": { schema: { type: "object", properties: { id: { type: "string" } } } } },
          },
          "404": {
            description: "THING_NOT_FOUND: no | such thing",
            content: { "application/json": { schema: { type: "object", "x-error-codes": ["THING_NOT_FOUND"] } } },
          },
        },
      },
    },
    "/a": { get: { tags: ["operations"], security: [], responses: { "200": { description: "ok" } } } },
  },
};

describe("the API reference", () => {
  const page = renderApiReference([{ name: "test-service", listener: "a test", document }]);

  it("has every operation with its auth, parameters, body fields and answers, codes linked to the errors page", () => {
    expect(page).toContain(
      "#### `POST /b/{id}`\n\n**Change a thing.**\n\nInto the stream things-&lt;id&gt;, as `things-<id>` says.\n\nAuth: a bearer token.",
    );
    expect(page).toContain("| `id` | path | yes | string (0–8 chars) |  |");
    expect(page).toContain("| `size` | integer (in [1, 9]) | yes |  |");
    expect(page).toContain("| `inner.x` | boolean | no |  |");
    expect(page).toContain("| 200 | object with `id` |");
    expect(page).toContain(`| 404 | [THING_NOT_FOUND](${ERRORS_PAGE}#thing_not_found): no \\| such thing |`);
    expect(page).toContain("#### `GET /a`\n\nAuth: none.");
    expect(page).toContain("[test-service](#test-service): `docs/openapi/test-service.json`");
  });

  it("is the same text whatever the order of the document's maps", () => {
    // Every map reversed but a schema's fields, whose order is the contracts' and is kept.
    const reversed = (value: unknown, keep = false): unknown => {
      if (Array.isArray(value)) return value.map((item) => reversed(item));
      if (value === null || typeof value !== "object") return value;
      const entries = Object.entries(value).map(([k, v]): [string, unknown] => [k, reversed(v, k === "properties")]);
      return Object.fromEntries(keep ? entries : entries.reverse());
    };
    const reordered = reversed(document) as OpenApiDocument;
    expect(Object.keys(reordered.paths)).toEqual(["/a", "/b/{id}"]);
    const render = (d: OpenApiDocument) =>
      renderApiReference([{ name: "t", listener: "t", document: normalizedDocument(d) }]);
    expect(render(reordered)).toBe(render(document));
  });
});

describe("types", () => {
  it("says bounds, enums, alternatives and references briefly", () => {
    expect(typeText({ type: "number", minimum: 0, exclusiveMinimum: true, maximum: 1 })).toBe("number (in (0, 1])");
    expect(typeText({ type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER })).toBe("integer (≥ 0)");
    expect(typeText({ enum: ["buy", "sell"], type: "string" })).toBe('one of "buy", "sell"');
    expect(
      typeText({ anyOf: [{ type: "string" }, { type: "array", items: { $ref: "#/components/schemas/Error" } }] }),
    ).toBe("string or array of Error");
    expect(typeText({ type: "string", nullable: true, format: "date-time" })).toBe("date-time or null");
  });
});
