import { z } from "zod";
import type { ErrorDetail } from "./errors.js";

export const ResourceId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export type ResourceId = z.infer<typeof ResourceId>;

/** Value types a resource may declare for a key. */
export const ValueType = z.enum(["STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"]);
export type ValueType = z.infer<typeof ValueType>;

/**
 * A key's declared type: `"STRING"` (required), or `{ "type": "STRING", "optional": true }`.
 */
export const KeyDeclaration = z.union([
  ValueType,
  z.strictObject({ type: ValueType, optional: z.boolean().default(false) }),
]);
export type KeyDeclaration = z.infer<typeof KeyDeclaration>;

export const KeyValueTypePairs = z
  .record(z.string().min(1).max(128), KeyDeclaration)
  .refine((pairs) => Object.keys(pairs).length > 0, "declare at least one key")
  .refine((pairs) => Object.keys(pairs).length <= 256, "at most 256 keys");
export type KeyValueTypePairs = z.infer<typeof KeyValueTypePairs>;

/** Body of `POST /api/v1/upload_resource`, as the resources document's Python example sends it. */
export const UploadResourceRequest = z.strictObject({
  resource_id: ResourceId,
  resource_dict: z.record(z.string(), z.unknown()),
  /** Publisher's own time of the values; defaults to when Heliograph received them. */
  timestamp: z.iso.datetime({ offset: true }).optional(),
});
export type UploadResourceRequest = z.infer<typeof UploadResourceRequest>;

function declarationOf(decl: KeyDeclaration): { type: ValueType; optional: boolean } {
  return typeof decl === "string" ? { type: decl, optional: false } : { type: decl.type, optional: decl.optional };
}

function matches(type: ValueType, value: unknown): boolean {
  switch (type) {
    case "STRING":
      return typeof value === "string";
    case "NUMBER":
      return typeof value === "number" && Number.isFinite(value);
    case "INTEGER":
      return typeof value === "number" && Number.isSafeInteger(value);
    case "BOOLEAN":
      return typeof value === "boolean";
    // The resources document declares "ARRAY" and sends an object keyed by period
    // ({"90": {...}}): an ARRAY takes a JSON array or a keyed collection.
    case "ARRAY":
      return Array.isArray(value) || (typeof value === "object" && value !== null);
    case "OBJECT":
      return typeof value === "object" && value !== null && !Array.isArray(value);
  }
}

const describe = (value: unknown): string => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value);

/**
 * Checks `resource_dict` against the resource's declared keys: every declared key is required
 * unless optional (an optional key may also be null), every value has its type, and undeclared
 * keys are refused. Returns one detail per problem, each naming `resource_dict.<key>`.
 */
export function checkResourceValues(pairs: KeyValueTypePairs, dict: Record<string, unknown>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  for (const [key, rawDecl] of Object.entries(pairs)) {
    const { type, optional } = declarationOf(rawDecl);
    const path = `resource_dict.${key}`;
    if (!Object.hasOwn(dict, key) || dict[key] === undefined) {
      if (!optional) problems.push({ path, message: `${key} is required (${type})` });
      continue;
    }
    const value = dict[key];
    if (value === null && optional) continue;
    if (!matches(type, value)) problems.push({ path, message: `${key} must be ${type}, got ${describe(value)}` });
  }
  for (const key of Object.keys(dict)) {
    if (!Object.hasOwn(pairs, key)) {
      problems.push({ path: `resource_dict.${key}`, message: `${key} is not a declared key of this resource` });
    }
  }
  return problems;
}
