import { spawnSync } from "node:child_process";
import { which } from "./process.js";

/** True when a Docker engine answers (the client alone is not enough). */
export function dockerEngineRuns(): boolean {
  if (!which("docker")) return false;
  return spawnSync("docker", ["info"], { stdio: "ignore", timeout: 5_000 }).status === 0;
}

export interface ContainerServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts NATS (JetStream) or Redis in a container through testcontainers, for machines that have a
 * Docker engine but not the binaries. Loaded lazily: most machines never need it.
 */
export async function startContainerServer(kind: "nats" | "redis"): Promise<ContainerServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  if (kind === "nats") {
    const container = await new GenericContainer("nats:2.10-alpine")
      .withCommand(["-js", "-sd", "/data"])
      .withExposedPorts(4222)
      .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
      .start();
    const port = container.getMappedPort(4222);
    return { url: `nats://${container.getHost()}:${port}`, port, stop: async () => void (await container.stop()) };
  }
  const container = await new GenericContainer("redis:7.0-alpine")
    .withCommand(["redis-server", "--appendonly", "yes", "--appendfsync", "everysec"])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const port = container.getMappedPort(6379);
  return { url: `redis://${container.getHost()}:${port}`, port, stop: async () => void (await container.stop()) };
}
