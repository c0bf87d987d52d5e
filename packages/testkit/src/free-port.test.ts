import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CLUSTER_BUS_OFFSET,
  CLUSTER_NODE_PORT_RANGE,
  childPortSliceEnv,
  freeClusterNodePort,
  freePort,
  PORT_RANGE,
  type PortRange,
  portSliceOf,
  sliceOf,
} from "./free-port.js";

const overlap = (a: PortRange, b: PortRange) => a.from < b.to && b.from < a.to;

// CI once failed with EADDRINUSE: a gateway's port, drawn at random, was taken by another file's
// process between the draw and the gateway's listen.
describe("free ports for the test kit", () => {
  it("never hands out the same port twice in one process, even to draws made before any is bound", async () => {
    const sequential: number[] = [];
    for (let i = 0; i < 300; i++) sequential.push(await freePort());
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    const all = [...sequential, ...concurrent];
    expect(new Set(all).size).toBe(all.length);
  });

  it("keeps a Redis Cluster node's bus port out of the range ordinary ports come from", async () => {
    const nodes = await Promise.all(Array.from({ length: 6 }, () => freeClusterNodePort()));
    expect(new Set(nodes).size).toBe(6);
    for (const port of nodes) {
      expect(port).toBeGreaterThanOrEqual(CLUSTER_NODE_PORT_RANGE.from);
      expect(port).toBeLessThan(CLUSTER_NODE_PORT_RANGE.to);
    }
    const buses = {
      from: CLUSTER_NODE_PORT_RANGE.from + CLUSTER_BUS_OFFSET,
      to: CLUSTER_NODE_PORT_RANGE.to + CLUSTER_BUS_OFFSET,
    };
    expect(overlap(buses, PORT_RANGE)).toBe(false);
    expect(overlap(CLUSTER_NODE_PORT_RANGE, PORT_RANGE)).toBe(false);
  });

  it("draws nothing from the kernel's ephemeral range, which outgoing connections take ports from", () => {
    const [ephemeralFrom] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    expect(PORT_RANGE.to).toBeLessThanOrEqual(ephemeralFrom as number);
    expect(CLUSTER_NODE_PORT_RANGE.to + CLUSTER_BUS_OFFSET).toBeLessThanOrEqual(ephemeralFrom as number);
  });

  it("gives the two Vitest workers and the processes each of them starts four slices that do not overlap", () => {
    const worker1 = { VITEST_POOL_ID: "1" };
    const worker2 = { VITEST_POOL_ID: "2" };
    const slices = [worker1, worker2, childPortSliceEnv(worker1), childPortSliceEnv(worker2)].map(portSliceOf);
    expect(new Set(slices).size).toBe(4);
    for (const range of [PORT_RANGE, CLUSTER_NODE_PORT_RANGE]) {
      const parts = slices.map((slice) => sliceOf(range, slice));
      for (const [i, a] of parts.entries()) {
        expect(a.to - a.from).toBeGreaterThanOrEqual(1_000);
        for (const b of parts.slice(i + 1)) expect(overlap(a, b)).toBe(false);
      }
    }
    // A worker's grandchild (a service the dev stack starts) stays in its parent's slice.
    const child = childPortSliceEnv(worker1);
    expect(portSliceOf(childPortSliceEnv(child))).toBe(portSliceOf(child));
    // Outside Vitest (npm start, a benchmark) the whole range.
    expect(portSliceOf({})).toBeUndefined();
    expect(sliceOf(PORT_RANGE, undefined)).toEqual(PORT_RANGE);
  });

  it("draws a worker's ports from its own slice", async () => {
    // Vitest names each worker process (VITEST_POOL_ID 1 or 2 here); without it this file's
    // slices would all be the whole range.
    expect(portSliceOf(process.env)).toBeDefined();
    const own = sliceOf(PORT_RANGE, portSliceOf(process.env));
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(own.from);
    expect(port).toBeLessThan(own.to);
  });
});
