import { createServer } from "node:net";

/**
 * Ports handed out are drawn below Linux's ephemeral range (32768–60999 by default): a port the
 * kernel picked for `listen(0)` is one it also gives to outgoing connections, and with hundreds of
 * connections opening during a test run one of them could take the port before the server that
 * was meant to have it binds. Drawn at random, so parallel test files rarely draw the same one.
 */
const FIRST = 20_000;
const LAST = 32_000;

/** Whether a server could listen on the port on 127.0.0.1 now. */
export function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago, from `range` (default 20,000–32,000). */
export async function freePort(range: { from: number; to: number } = { from: FIRST, to: LAST }): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = range.from + Math.floor(Math.random() * (range.to - range.from));
    if (await portBindable(port)) return port;
  }
  throw new Error(`no free port between ${range.from} and ${range.to} after 100 tries`);
}
