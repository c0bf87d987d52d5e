import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  NATS_ROLES,
  type NatsCredentials,
  type NatsRole,
  natsCredentials,
  renderNatsAuthConfig,
} from "@heliograph/platform";
import { tempDataDir } from "./temp-dir.js";

/** A run's NATS users: the rendered server configuration and each role's credentials. */
export interface NatsAuth {
  /** nats-server's `-c` file: the authorization block of every role, with this run's passwords. */
  configFile: string;
  roles: Record<NatsRole, NatsCredentials>;
}

/** New random passwords for every role (per run: nothing to leak), rendered into a config file. */
export function generateNatsAuth(): NatsAuth {
  const passwords = Object.fromEntries(NATS_ROLES.map((role) => [role, randomBytes(24).toString("hex")])) as Record<
    NatsRole,
    string
  >;
  const configFile = join(tempDataDir("hg-nats-auth-"), "auth.conf");
  writeFileSync(configFile, renderNatsAuthConfig(passwords), { mode: 0o600 });
  const roles = Object.fromEntries(NATS_ROLES.map((role) => [role, natsCredentials(role, passwords[role])])) as Record<
    NatsRole,
    NatsCredentials
  >;
  return { configFile, roles };
}

/** The environment a service reads its NATS credentials from (BaseEnv's NATS_USER, NATS_PASSWORD). */
export const natsCredentialsEnv = (credentials: NatsCredentials | undefined): NodeJS.ProcessEnv =>
  credentials ? { NATS_USER: credentials.user, NATS_PASSWORD: credentials.password } : {};

/** nats.js connect options of a URL list and credentials (user, pass and the role's inbox prefix). */
export function natsConnectOptions(url: string, credentials: NatsCredentials | undefined) {
  return {
    servers: url.split(","),
    ...(credentials
      ? {
          user: credentials.user,
          pass: credentials.password,
          ...(credentials.inboxPrefix ? { inboxPrefix: credentials.inboxPrefix } : {}),
        }
      : {}),
  };
}

/** Credentials of a server the harness did not start (NATS_URL): NATS_USER and NATS_PASSWORD, if set. */
export function natsCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): NatsCredentials | undefined {
  return env.NATS_USER && env.NATS_PASSWORD ? { user: env.NATS_USER, password: env.NATS_PASSWORD } : undefined;
}
