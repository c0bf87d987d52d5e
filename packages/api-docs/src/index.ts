export * from "./api-reference.js";
export * from "./openapi-documents.js";
export type * from "./openapi-types.js";
