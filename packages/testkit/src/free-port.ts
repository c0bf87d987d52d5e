import { createServer } from "node:net";

/**
 * Ports handed out are drawn below Linux's ephemeral range (32768–60999 by default): a port the
 * kernel picked for `listen(0)` is one it also gives to outgoing connections, and with hundreds of
 * connections opening during a test run one of them could take the port before the server that
 * was meant to have it binds. Drawn at random, so parallel test files rarely draw the same one.
 */
const FIRST = 20_000;
const LAST = 32_000;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST + Math.floor(Math.random() * (LAST - FIRST));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port between ${FIRST} and ${LAST} after 100 tries`);
}
