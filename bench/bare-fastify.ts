/**
 * Child: a bare Fastify server, the raw side of R3 (POST of a 300-byte JSON answered 202 with
 * nothing else) and R4 (long polls held until one release answers them all).
 */
import Fastify, { type FastifyReply } from "fastify";
import { childMain } from "./child.js";

export interface BareInput {
  backlog: number;
}

childMain<BareInput, { stopped: true }>(async (input, io) => {
  const app = Fastify({ logger: false, keepAliveTimeout: 72_000, requestTimeout: 0, connectionTimeout: 0 });
  let held: FastifyReply[] = [];
  app.post("/signal", async (_req, reply) => reply.code(202).send());
  app.get("/poll", (req, reply) => {
    held.push(reply);
    // A client that leaves is dropped at once, as the stream gateway does.
    req.raw.once("close", () => {
      if (!reply.sent) held = held.filter((r) => r !== reply);
    });
  });
  // What one event costs to send to each waiter: the same text for all, serialised once.
  const event = JSON.stringify([
    { event_number: 0, event_type: "TradingSignalCreated", data: { id: "x".repeat(240) } },
  ]);
  app.post("/release", async () => {
    const waiting = held;
    held = [];
    for (const reply of waiting) reply.type("application/json").send(event);
    return { released: waiting.length };
  });
  app.get("/stats", async () => ({ held: held.length, rss: process.memoryUsage().rss }));
  const address = await app.listen({ host: "127.0.0.1", port: 0, backlog: input.backlog });
  io.progress({ listening: new URL(address).port });
  await new Promise<void>((resolve) => io.onCommand((command) => command === "stop" && resolve()));
  await app.close();
  return { stopped: true };
});
