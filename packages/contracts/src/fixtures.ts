/**
 * The documents' example payloads, for tests, the dev stack and examples: a separate entry
 * (`@heliograph/contracts/fixtures`) so production code never ships them by accident.
 */
export * from "./document-fixtures.js";
export * from "./idea-fixtures.js";
