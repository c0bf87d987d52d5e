export * from "./admin-client.js";
