import { once } from "node:events";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Redis } from "./redis.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The process's NATS connection (`natsPlugin`). */
    nats: NatsConnection;
    /** The process's Redis client (`redisPlugin`). */
    redis: Redis;
  }
}

export interface ConnectionPluginOptions<C> {
  client: C;
  /**
   * The app owns the client: closing the app closes it (NATS drained, Redis quit), after whatever
   * was registered later (onClose hooks run in reverse order of registration). Off by default, as
   * in @fastify/redis, so apps that share one client (tests) each leave it open.
   */
  close?: boolean;
}

function refuseSecond(app: FastifyInstance, decorator: "nats" | "redis", plugin: string): void {
  // One client per app: a second would leave the routes talking to whichever was decorated first.
  if (app.hasDecorator(decorator)) throw new Error(`${plugin} has already been registered`);
}

/** Decorates the app with its NATS connection (`app.nats`); registered once per app. */
export const natsPlugin = fp<ConnectionPluginOptions<NatsConnection>>(
  async (app, { client, close }) => {
    refuseSecond(app, "nats", "heliograph-nats");
    app.decorate("nats", client);
    if (close) {
      app.addHook("onClose", async () => {
        if (!client.isClosed()) await client.drain();
      });
    }
  },
  { name: "heliograph-nats", fastify: "5.x" },
);

/** Decorates the app with its Redis client (`app.redis`); registered once per app. */
export const redisPlugin = fp<ConnectionPluginOptions<Redis>>(
  async (app, { client, close }) => {
    refuseSecond(app, "redis", "heliograph-redis");
    app.decorate<Redis>("redis", client);
    if (close) {
      app.addHook("onClose", async () => {
        if (client.status === "end") return;
        // quit() answers before the socket has closed; the app is closed once it has.
        const ended = once(client, "end");
        // A client that cannot send QUIT (Redis is down) is closed on our side instead.
        await client.quit().catch(() => client.disconnect());
        await ended;
      });
    }
  },
  { name: "heliograph-redis", fastify: "5.x" },
);
