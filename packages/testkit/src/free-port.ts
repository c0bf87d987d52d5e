import { createServer } from "node:net";

/**
 * Where test ports come from, and why three ways of taking the same port cannot happen:
 *
 * - Below Linux's ephemeral range (32768–60999 by default): a port the kernel picked for
 *   `listen(0)` is one it also gives to outgoing connections, and with hundreds of connections
 *   opening during a test run one of them could take the port before the server meant to have it
 *   binds.
 * - Ordinary ports (26,000–32,000) and Redis Cluster node ports (10,000–16,000, whose cluster bus
 *   is port + 10,000, so 20,000–26,000) never overlap: a bus port was once drawn as another test
 *   file's gateway port and that gateway failed with EADDRINUSE.
 * - Each range is cut in four slices: the two Vitest workers draw from the first two (by
 *   VITEST_POOL_ID), a process a worker starts (a dev stack, `npm run cluster`) from the other two
 *   (HG_TEST_PORT_SLICE, set by startProcess), so no two processes draw the same port. Anything
 *   else (a developer's `npm start`, a benchmark) draws from the whole range.
 * - Inside one process, draws walk the slice from a random start instead of picking at random:
 *   two ports drawn before either is bound (a service's port and its admin port, a cluster's six)
 *   are never the same one.
 */
export const PORT_RANGE = { from: 26_000, to: 32_000 } as const;
export const CLUSTER_NODE_PORT_RANGE = { from: 10_000, to: 16_000 } as const;
/** A Redis Cluster node's bus listens here above its client port. */
export const CLUSTER_BUS_OFFSET = 10_000;

const SLICES = 4;
const WORKER_SLICES = 2;
/** The slice a process started by a test draws from; startProcess sets it. */
export const PORT_SLICE_VARIABLE = "HG_TEST_PORT_SLICE";

export interface PortRange {
  from: number;
  to: number;
}

/** Which of the four slices a process with this environment draws from; undefined: the whole range. */
export function portSliceOf(env: NodeJS.ProcessEnv): number | undefined {
  const explicit = env[PORT_SLICE_VARIABLE];
  if (explicit !== undefined && /^\d+$/.test(explicit)) return Number(explicit) % SLICES;
  const pool = env.VITEST_POOL_ID;
  if (pool !== undefined && /^\d+$/.test(pool)) return (Math.max(1, Number(pool)) - 1) % WORKER_SLICES;
  return undefined;
}

/**
 * The environment for a process this one starts: a Vitest worker's children draw from a slice of
 * their own (the worker's slice + 2), everyone else's children from the same slice as their parent.
 */
export function childPortSliceEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env[PORT_SLICE_VARIABLE] !== undefined) return env;
  const slice = portSliceOf(env);
  if (slice === undefined) return env;
  return { ...env, [PORT_SLICE_VARIABLE]: String(slice + WORKER_SLICES) };
}

/** The part of `range` a process in `slice` draws from. */
export function sliceOf(range: PortRange, slice: number | undefined): PortRange {
  if (slice === undefined) return range;
  const width = Math.floor((range.to - range.from) / SLICES);
  return { from: range.from + slice * width, to: range.from + (slice + 1) * width };
}

/** Whether a server could listen on the port on 127.0.0.1 now. */
export function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Walks a range from a random start. The next port is taken synchronously, before any await, so
 * concurrent draws (Promise.all over a cluster's nodes) each get their own.
 */
class PortWalk {
  private next: number | undefined;
  constructor(private readonly range: PortRange) {}
  take(): number {
    const width = this.range.to - this.range.from;
    if (this.next === undefined) this.next = Math.floor(Math.random() * width);
    const port = this.range.from + (this.next % width);
    this.next = (this.next + 1) % width;
    return port;
  }
}

let ordinary: PortWalk | undefined;
let clusterNodes: PortWalk | undefined;

async function draw(walk: PortWalk, usable: (port: number) => Promise<boolean>, what: string): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = walk.take();
    if (await usable(port)) return port;
  }
  throw new Error(`no free ${what} after 200 tries`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out before. */
export function freePort(): Promise<number> {
  ordinary ??= new PortWalk(sliceOf(PORT_RANGE, portSliceOf(process.env)));
  return draw(ordinary, portBindable, "port");
}

/** A port for a Redis Cluster node whose bus port (port + 10,000) is free too. */
export function freeClusterNodePort(): Promise<number> {
  clusterNodes ??= new PortWalk(sliceOf(CLUSTER_NODE_PORT_RANGE, portSliceOf(process.env)));
  return draw(
    clusterNodes,
    async (port) => (await portBindable(port)) && (await portBindable(port + CLUSTER_BUS_OFFSET)),
    "Redis Cluster node port",
  );
}
