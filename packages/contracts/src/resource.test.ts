import { describe, expect, it } from "vitest";
import { DOCUMENT_RESOURCE_1, DOCUMENT_RESOURCE_DICT, DOCUMENT_UPLOAD_RESOURCE_BODY } from "./document-fixtures.js";
import { checkResourceValues, KeyValueTypePairs, UploadResourceRequest } from "./resource.js";

const pairs = KeyValueTypePairs.parse(DOCUMENT_RESOURCE_1.key_value_type_pairs);

describe("upload_resource", () => {
  it("accepts the document's example body and values exactly as written", () => {
    const body = UploadResourceRequest.parse(DOCUMENT_UPLOAD_RESOURCE_BODY);
    expect(checkResourceValues(pairs, body.resource_dict)).toEqual([]);
  });

  it("takes a JSON array for an ARRAY key too", () => {
    expect(checkResourceValues(pairs, { ...DOCUMENT_RESOURCE_DICT, "Retracement channels": [1, 2] })).toEqual([]);
  });

  it("names a missing key, a mistyped value and an undeclared key", () => {
    const { Market: _market, ...withoutMarket } = DOCUMENT_RESOURCE_DICT;
    const problems = checkResourceValues(pairs, { ...withoutMarket, Symbol: 42, Extra: true });
    expect(problems.map((p) => p.path).sort()).toEqual([
      "resource_dict.Extra",
      "resource_dict.Market",
      "resource_dict.Symbol",
    ]);
  });

  it("checks every declared type", () => {
    const all = KeyValueTypePairs.parse({
      s: "STRING",
      n: "NUMBER",
      i: "INTEGER",
      b: "BOOLEAN",
      a: "ARRAY",
      o: "OBJECT",
    });
    expect(checkResourceValues(all, { s: "x", n: 1.5, i: 2, b: false, a: [], o: {} })).toEqual([]);
    const wrong = checkResourceValues(all, { s: 1, n: "1", i: 1.5, b: "true", a: "x", o: [] });
    expect(wrong).toHaveLength(6);
  });

  it("lets an optional key be absent or null", () => {
    const decl = KeyValueTypePairs.parse({ Symbol: "STRING", Note: { type: "STRING", optional: true } });
    expect(checkResourceValues(decl, { Symbol: "X" })).toEqual([]);
    expect(checkResourceValues(decl, { Symbol: "X", Note: null })).toEqual([]);
    expect(checkResourceValues(decl, { Symbol: "X", Note: 3 })).toHaveLength(1);
    expect(checkResourceValues(decl, { Symbol: null })).toHaveLength(1);
  });

  it("does not treat inherited names as declared keys", () => {
    expect(checkResourceValues(pairs, { ...DOCUMENT_RESOURCE_DICT, constructor: "x" })).toHaveLength(1);
  });

  it("refuses a non-integer or missing resource_id", () => {
    expect(UploadResourceRequest.safeParse({ resource_id: "1", resource_dict: {} }).success).toBe(false);
    expect(UploadResourceRequest.safeParse({ resource_dict: {} }).success).toBe(false);
  });
});
