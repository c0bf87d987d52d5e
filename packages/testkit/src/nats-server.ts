import type { NatsCredentials, NatsRole } from "@heliograph/platform";
import { dockerEngineRuns, startContainerServer } from "./containers.js";
import { freePort } from "./free-port.js";
import { generateNatsAuth, natsConnectOptions, natsCredentialsEnv, natsCredentialsFromEnv } from "./nats-auth.js";
import { which } from "./process.js";
import { ownedServer, type ServerHandle, unownedServer } from "./server-handle.js";
import { tempDataDir } from "./temp-dir.js";

export interface NatsServerHandle extends ServerHandle {
  /** JetStream's file store ("" when the harness does not own the server). */
  storeDir: string;
  /**
   * The admin role's credentials, for tests' own connections: `connectNats(server, log, name)`
   * connects with them. From NATS_USER/NATS_PASSWORD when NATS_URL is set; none without auth.
   */
  credentials: NatsCredentials | undefined;
  /** Every role's credentials when the harness started the server with auth (the default), else undefined. */
  roles: Record<NatsRole, NatsCredentials> | undefined;
  /** nats.js connect options as `role` (default admin): servers, user, pass, inbox prefix. */
  connectOptions(role?: NatsRole): ReturnType<typeof natsConnectOptions>;
  /**
   * A service's NATS environment as `role`: NATS_URL and, when the harness knows them, that role's
   * NATS_USER and NATS_PASSWORD (otherwise the process's own, which services inherit).
   */
  serviceEnv(role: NatsRole): NodeJS.ProcessEnv;
  /**
   * Where and as whom to connect as `role` (connectNats's target), for apps built in-process: the
   * role's credentials, or the handle's own when the harness does not know the roles.
   */
  as(role: NatsRole): { url: string; credentials: NatsCredentials | undefined };
}

/** The credentials part of a handle, for a server given by URL (and credentials from the env). */
export function natsAccess(
  url: string,
  roles: Record<NatsRole, NatsCredentials> | undefined,
  credentials = roles?.admin,
): Pick<NatsServerHandle, "credentials" | "roles" | "connectOptions" | "serviceEnv" | "as"> {
  return {
    as: (role: NatsRole) => ({ url, credentials: roles?.[role] ?? credentials }),
    credentials,
    roles,
    serviceEnv: (role: NatsRole) => ({ NATS_URL: url, ...natsCredentialsEnv(roles?.[role]) }),
    connectOptions(role: NatsRole = "admin") {
      if (role !== "admin" && !roles)
        throw new Error(`no ${role} credentials: this NATS server was not started with auth`);
      return natsConnectOptions(url, role === "admin" ? credentials : roles?.[role]);
    },
  };
}

/**
 * Starts `nats-server -js` on a free loopback port with file storage in a temp folder and auth on
 * (a user per role, random passwords: `roles`; `auth: false` for none), or uses `NATS_URL` when it
 * is set (then restart/kill are not available, and credentials come from NATS_USER/NATS_PASSWORD).
 */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; reuseEnv?: boolean; ownProcessGroup?: boolean; auth?: boolean } = {},
): Promise<NatsServerHandle> {
  if (options.reuseEnv !== false && process.env.NATS_URL) {
    const url = process.env.NATS_URL;
    const port = Number(new URL(url.replace("nats://", "http://")).port);
    return {
      ...unownedServer(url, port, "NATS_URL is set"),
      storeDir: "",
      ...natsAccess(url, undefined, natsCredentialsFromEnv()),
    };
  }
  const binary = which("nats-server");
  if (!binary && dockerEngineRuns()) {
    const server = await startContainerServer("nats");
    return {
      ...unownedServer(server.url, server.port, "a container", server.stop),
      storeDir: "",
      ...natsAccess(server.url, undefined),
    };
  }
  if (!binary)
    throw new Error("nats-server is not on the PATH: install it (apt-get install nats-server) or set NATS_URL");
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? tempDataDir("hg-nats-");
  const auth = options.auth === false ? undefined : generateNatsAuth();
  const url = `nats://127.0.0.1:${port}`;
  const server = await ownedServer("nats-server", url, port, {
    binary,
    args: [...(auth ? ["-c", auth.configFile] : []), "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
    ownProcessGroup: options.ownProcessGroup,
  });
  return Object.assign(server, { storeDir }, natsAccess(url, auth?.roles));
}
