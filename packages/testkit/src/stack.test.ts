import { afterAll, describe, expect, it } from "vitest";
import { tcpReady } from "./server-handle.js";
import { type Stack, startStack } from "./stack.js";

const ready = async (url: string) => (await fetch(`${url}/readyz`)).status === 200;

const stacks: Stack[] = [];
afterAll(async () => {
  for (const stack of stacks.reverse()) await stack.stop();
}, 60_000);

describe("startStack", () => {
  it("starts services on servers it was given, as many of each as asked; kills, restarts and stops them, and leaves the servers running", async () => {
    const servers = await startStack({ services: {}, nats: { reuseEnv: false }, redis: { reuseEnv: false } });
    stacks.push(servers);
    expect(servers.instances.sequencer).toEqual([]);
    expect(() => servers.ingest).toThrow(/no ingest-gateway/);

    const stack = await startStack({
      nats: servers.nats,
      redis: servers.redis,
      services: { "ingest-gateway": 1, sequencer: 2 },
      env: { LOG_LEVEL: "warn" },
      ownProcessGroup: true,
    });
    stacks.push(stack);
    expect(Object.keys(stack.services)).toEqual(["ingest-gateway", "sequencer"]);
    expect(stack.instances.sequencer.map((s) => s.port)).toHaveLength(2);
    expect(new Set(stack.instances.sequencer.map((s) => s.port)).size).toBe(2);
    for (const handle of Object.values(stack.instances).flat()) expect(await ready(handle.url)).toBe(true);

    const second = stack.instances.sequencer[1];
    if (!second) throw new Error("no second sequencer");
    await stack.killHard("sequencer", 1);
    expect(second.running()).toBe(false);
    // The handle's own restart goes through the stack: it holds the new process from then on.
    const restarted = await second.restart();
    expect(stack.instances.sequencer[1]).toBe(restarted);
    expect(restarted.port).toBe(second.port);
    expect(await ready(restarted.url)).toBe(true);

    const handles = Object.values(stack.instances).flat();
    await stack.stop();
    expect(handles.map((h) => h.running())).toEqual([false, false, false]);
    for (const handle of handles) expect(await tcpReady(handle.port)).toBe(false);
    expect(await tcpReady(servers.nats.port)).toBe(true);
    expect(await tcpReady(servers.redis.port)).toBe(true);
  }, 120_000);
});
