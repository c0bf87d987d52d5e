/**
 * For tests: a TCP proxy that holds every chunk for `delayMs` before passing it on, in order, in
 * both directions. It puts a real network delay between one client and a real server, so a test
 * can make one gateway's Redis slower than another's without replacing Redis.
 */
import { connect, createServer, type Socket } from "node:net";

export interface DelayedProxy {
  /** `redis://127.0.0.1:<port>` style address of the proxy, for the given scheme. */
  url(scheme: string): string;
  stop(): Promise<void>;
}

export async function startDelayedProxy(
  target: { host: string; port: number },
  delayMs: number,
): Promise<DelayedProxy> {
  const sockets = new Set<Socket>();
  const pipeDelayed = (from: Socket, to: Socket) => {
    from.on("data", (chunk) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    from.on("close", () => setTimeout(() => to.destroy(), delayMs));
    from.on("error", () => to.destroy());
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${address.port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
