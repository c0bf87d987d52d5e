/**
 * Nchan (nginx's pub/sub module), the peer of N2 and N3: Debian's nginx-light and
 * libnginx-mod-nchan, installed with apt-get when missing, run by the bench as its own nginx
 * (foreground, one master and one worker) with a config in a temp folder and a free port.
 */

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, tcpReady, waitFor, which } from "@heliograph/testkit";
import { procStatFields, residentBytes } from "./process-cost.js";
import { BACKLOG } from "./raw.js";

/** Where Debian's libnginx-mod-nchan puts the module. */
export const NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so";
const PACKAGES = ["nginx-light", "libnginx-mod-nchan"];

/** The publisher location (POST publishes, GET tells of the channel); `?id=` names the channel. */
export const PUBLISH_PATH = "/pub";
/** The long-poll subscriber location; `?id=` names the channel. */
export const SUBSCRIBE_PATH = "/sub";

export interface NchanConfigInput {
  /** Folder of the pid file, the error log and the temp folders (nginx's -p prefix). */
  prefix: string;
  port: number;
  modulePath: string;
  /** Connections the worker must hold at once: the held polls and the few the bench opens itself. */
  connections: number;
}

/** Messages each channel keeps for a follower between two of its polls. */
export const NCHAN_BUFFER = 1_000;

/**
 * nginx.conf of the bench's Nchan. Every path is under `prefix`, so nginx runs without root; as
 * root the worker still drops to nginx's default user, which only ever needs what it reads from
 * memory (bodies of ~300 B never reach a temp file).
 */
export function nchanConfig(input: NchanConfigInput): string {
  const { prefix, port, modulePath } = input;
  // Slack for the publisher's and the runner's own connections beside the held ones.
  const connections = input.connections + 1_024;
  return `# written by bench/nchan-server.ts for one pnpm bench run
load_module ${modulePath};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile ${connections + 1_024};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;

events {
  worker_connections ${connections};
}

http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Node's HTTP server has no cap on requests per keep-alive connection; nginx closes one after
  # 1,000 by default, which the paced publisher's 16 connections pass within a 20 s run.
  keepalive_requests 1000000;

  server {
    listen 127.0.0.1:${port} backlog=${BACKLOG};

    location = ${PUBLISH_PATH} {
      nchan_publisher;
      nchan_channel_id $arg_id;
      # A long-poll follower is away between two polls: what is published meanwhile waits here.
      # The default (10) is 10 ms at 1,000/s; a stalled follower would lose messages, not wait.
      nchan_message_buffer_length ${NCHAN_BUFFER};
    }

    location = ${SUBSCRIBE_PATH} {
      nchan_subscriber longpoll;
      nchan_channel_id $arg_id;
      # A request without If-Modified-Since / If-None-Match waits for the next message, as a
      # Heliograph long poll from a new stream's head does.
      nchan_subscriber_first_message newest;
    }
  }
}
`;
}

let installed: { nginx: string; module: string } | Error | undefined;

/**
 * nginx and the Nchan module, installed with apt-get when either is missing (as root, where
 * apt-get is). Throws a message saying what to install when that is not possible or fails.
 */
export function ensureNchanInstalled(log: (message: string) => void): { nginx: string; module: string } {
  // One attempt a run: a failed install fails every N repetition with its message, not with apt again.
  installed ??= (() => {
    try {
      return installNchan(log);
    } catch (err) {
      return err as Error;
    }
  })();
  if (installed instanceof Error) throw installed;
  return installed;
}

function findNginx(): string | undefined {
  return which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : undefined);
}

function installNchan(log: (message: string) => void): { nginx: string; module: string } {
  const found = () => {
    const nginx = findNginx();
    return nginx && existsSync(NCHAN_MODULE) ? { nginx, module: NCHAN_MODULE } : undefined;
  };
  const present = found();
  if (present) return present;
  const howTo = `install them (Debian/Ubuntu: apt-get install ${PACKAGES.join(" ")}) for the N rows`;
  if (process.getuid?.() !== 0 || !which("apt-get"))
    throw new Error(`nginx or the Nchan module (${NCHAN_MODULE}) is missing: ${howTo}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args: string[]) =>
    spawnSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
  log(`installing ${PACKAGES.join(" ")} with apt-get (the N rows' Nchan)`);
  let result = apt(["install", "-y", "-qq", ...PACKAGES]);
  // Package lists never fetched (a fresh container) or stale: fetch them once and try again.
  if (result.status !== 0) {
    apt(["update", "-qq"]);
    result = apt(["install", "-y", "-qq", ...PACKAGES]);
  }
  const after = found();
  if (after) return after;
  const tail = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-3).join(" / ");
  throw new Error(`apt-get install ${PACKAGES.join(" ")} failed (${result.status ?? result.error?.message}): ${tail}`);
}

/** What a GET on the publisher location says of a channel (`Accept: application/json`). */
export interface ChannelInfo {
  messages: number;
  subscribers: number;
}

export interface NchanServer {
  url: string;
  publishPath(channel: string): string;
  subscribePath(channel: string): string;
  channel(channel: string): Promise<ChannelInfo>;
  /** Resident memory of the worker process (bytes), from /proc/<pid>/status. */
  workerRss(): number;
  stop(): Promise<void>;
}

/** The worker: the master's one child. /proc is read rather than the pid file, which names the master. */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(procStatFields(entry)[1]) === parent) pids.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

function isNginxWorker(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("nginx: worker");
  } catch {
    return false;
  }
}

function workerRss(pid: number): number {
  const rss = residentBytes(pid);
  if (rss === undefined) throw new Error(`the nginx worker ${pid} has no VmRSS (gone?)`);
  return rss;
}

export async function startNchan(options: {
  connections: number;
  log: (message: string) => void;
}): Promise<NchanServer> {
  const { nginx, module } = ensureNchanInstalled(options.log);
  const prefix = mkdtempSync(join(tmpdir(), "hg-nchan-"));
  // The worker may run as another user (root's nginx drops to its default user): it reads the prefix.
  chmodSync(prefix, 0o755);
  const port = await freePort();
  const conf = join(prefix, "nginx.conf");
  writeFileSync(conf, nchanConfig({ prefix, port, modulePath: module, connections: options.connections }));
  // -e: the error log compiled in (/var/log/nginx) is opened before the config is read.
  const args = ["-p", prefix, "-c", conf, "-e", join(prefix, "error.log")];
  const proc: ManagedProcess = startProcess("nginx", nginx, args);
  const url = `http://127.0.0.1:${port}`;
  const errorLog = () => {
    try {
      return readFileSync(join(prefix, "error.log"), "utf8").slice(-2_000);
    } catch {
      return "";
    }
  };
  const masterPid = proc.pid;
  let workerPid: number | undefined;
  // The runner exiting on a signal skips the measure's own stop: nginx must not outlive it.
  const onExit = () => {
    if (proc.running() && masterPid !== undefined) process.kill(masterPid, "SIGTERM");
  };
  process.once("exit", onExit);
  const stop = async () => {
    process.off("exit", onExit);
    // SIGTERM is nginx's fast shutdown: the master ends its worker before it exits.
    await proc.stop(5_000);
    // A master killed after the grace leaves its worker behind (then a child of init).
    if (workerPid !== undefined && isNginxWorker(workerPid)) {
      try {
        process.kill(workerPid, "SIGKILL");
      } catch {
        // It ended after all.
      }
    }
    rmSync(prefix, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => !proc.running() || (await tcpReady(port)), {
      timeoutMs: 15_000,
      what: `nginx on ${port}`,
    });
    if (!proc.running()) throw new Error(`nginx exited (${await proc.exited()})`);
    workerPid = await waitFor(() => (masterPid === undefined ? undefined : childPids(masterPid)[0]), {
      timeoutMs: 5_000,
      what: "the nginx worker",
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${proc.output()}\n${errorLog()}`);
  }
  const publishPath = (channel: string) => `${PUBLISH_PATH}?id=${encodeURIComponent(channel)}`;
  return {
    url,
    publishPath,
    subscribePath: (channel) => `${SUBSCRIBE_PATH}?id=${encodeURIComponent(channel)}`,
    async channel(channel) {
      const res = await fetch(`${url}${publishPath(channel)}`, { headers: { accept: "application/json" } });
      // A channel nobody published to nor waits on does not exist yet.
      if (res.status === 404) return { messages: 0, subscribers: 0 };
      if (res.status !== 200) throw new Error(`Nchan channel info answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as ChannelInfo;
    },
    workerRss: () => workerRss(workerPid!),
    stop,
  };
}

/** nginx's and the Nchan package's versions, for the report ("not installed" before a run installs them). */
export function nchanVersion(): string {
  const nginx = findNginx();
  if (!nginx || !existsSync(NCHAN_MODULE)) return "nginx with Nchan not installed";
  const version = spawnSync(nginx, ["-v"], { encoding: "utf8" })
    .stderr.trim()
    .replace(/^nginx version: /, "");
  // "<package>\t<version>"
  const r = spawnSync("dpkg-query", ["-W", "libnginx-mod-nchan"], { encoding: "utf8" });
  return `${version} with Nchan ${r.status === 0 ? r.stdout.trim().split("\t")[1] : "(version unknown)"}`;
}
