/** bench-results/latest.json and BENCHMARKS.md. */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./child.js";
import { renderCostMarkdown } from "./cost-table.js";
import { nchanVersion } from "./nchan-server.js";
import type { Options } from "./options.js";
import { type Row, renderMarkdown } from "./table.js";

/** Everything from this line on in BENCHMARKS.md is kept when a run rewrites the file. */
export const ANALYSIS_MARKER = "<!-- analysis: kept across runs -->";

export const RESULTS_DIR = join(REPO_ROOT, "bench-results");

export interface Machine {
  cores: number;
  cpu: string;
  memoryGiB: number;
  node: string;
  nats: string;
  redis: string;
  /** nginx and Nchan (N2, N3). */
  nchan: string;
  fdLimit: string;
  somaxconn: string;
}

const firstLine = (command: string, args: string[]) => {
  const r = spawnSync(command, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n")[0] ?? "unknown";
};

export function machine(): Machine {
  const somaxconn =
    spawnSync("cat", ["/proc/sys/net/core/somaxconn"], { encoding: "utf8" }).stdout?.trim() || "unknown";
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    nats: firstLine("nats-server", ["--version"]),
    redis: (() => {
      const line = firstLine("redis-server", ["--version"]);
      const version = /v=(\S+)/.exec(line)?.[1];
      return version ? `redis-server ${version}` : line;
    })(),
    nchan: nchanVersion(),
    fdLimit: spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim(),
    somaxconn,
  };
}

export interface RunReport {
  date: string;
  options: { reps: number; only: string[]; quick: boolean; sizes: Options["sizes"] };
  machine: Machine;
  rows: Row[];
  /** Every figure of every repetition, by key (e.g. `B3.first`, which is not in the table). */
  values: Record<string, number[]>;
  notes: string[];
  failures: string[];
}

export function writeJson(report: RunReport): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, "latest.json");
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

const STANDING_NOTES = [
  "Everything shares one 2-core machine: NATS, Redis, the three services, the load generators and the runner. Raw and Heliograph figures are measured in the same run, repetitions interleaved, so a noisy moment hits both sides; still, compare ratios more than absolute numbers.",
  "Load generators and bare servers run in child processes (`bench/*.ts` via `Child`), never in the runner's event loop; times across processes are taken on CLOCK_MONOTONIC (`process.hrtime`).",
  "R1 publishes to a JetStream stream with INGEST's storage (file) and dedup window, with a `Nats-Msg-Id` per message, as the ingest gateway does.",
  "R2 calls `runSequenceStep` of services/sequencer/src/sequence-step.ts (the sequencer's own script and ARGV layout) on an auto-pipelined ioredis connection. R2b is the batched shape the sequencer really uses.",
  "R3 and R4 are a bare Fastify 5 server with `backlog` 8192 (capped by net.core.somaxconn). The Heliograph services call `app.listen({ host, port })` with no backlog option, so they get Node's default of 511; the long-poll clients open connections in waves of 500 so the accept queue never overflows on either side.",
  "B1: autocannon (-c64, one process) posts the trading-signal document body round-robin to 8 algorithm streams. The figure is 202s divided by the time from the first request until the last accepted signal was numbered (visible in Redis). Every 202's ingest id is then looked up in the Redis logs (entry field `i`): each must be there exactly once.",
  "B2: one publisher child at a fixed rate (open loop, 16 keep-alive connections) and one follower child long-polling the stream with batch 1000; latency is the follower's receive time minus the publisher's 202 time for the same signal id. An event can reach the follower before the publisher has read its 202; those count as 0 ms.",
  "B3 and R4: RSS per held request is (RSS with all held − RSS before) / held, from `heliograph_process_resident_memory_bytes` of the stream gateway (process.memoryUsage for the bare server), the gateway restarted for each repetition (one that held 10,000 before reuses their pages and reads ~1 KB); no GC is forced, so it is an upper bound: the memory to provision, not the V8 heap the clients hold (11.6 KB per held poll in a heap-snapshot diff of 2,000). The B3 time runs from sending the publish (to the ingest gateway) to the last answer, so it includes ingest, JetStream, the sequencer and the EVENTS hop; R4's from the release request.",
  "N2 and N3: Nchan (nginx-light with libnginx-mod-nchan from Debian) in a bench-owned nginx, one worker, a config of its own (bench/nchan-server.ts, bench/README.md). N2 is B2's measure (same rate, duration, publisher and follower children) on one Nchan channel; Nchan answers its publisher only after writing the message to the waiting subscribers, so most N2 latencies are 0 and N2 sent (from the publish sent, beside B2 sent) is the like-for-like figure. N3 is B3's measure on one channel, RSS per held poll from the worker's VmRSS; each N measure starts its own nginx.",
  "B5: the backlog is published straight to `ingest.<p>.<stream>` as IngestMessage JSON with the sequencer stopped, into one stream; the figure counts from the first event numbered to the head reaching the last one (process start-up and lease acquisition are reported apart as B5.startupMs in latest.json). B4 then reads that stream from -1 over HTTP without compression.",
  "B3x2: the same long polls (2 × `scaleOutPolls`) held by one stream gateway, then by two, once through the local cluster's front (deploy/dev's round-robin proxy in a child process: a new connection to a gateway per poll) and once with the clients split over the two ports by the client process. Every setting runs on gateways started for it on the stack's NATS and Redis and stopped after, each warmed by an untimed fan-out of a sixteenth as many polls (whose pages the measured ones then reuse: RSS per poll is low by up to that share): the stack's own gateway is left to B3, whose RSS per poll fell to ~0 KB when a larger hold came seconds before on the same process. The front's CPU per held poll counts its accepting and forwarding the request; per answer, the cost table.",
  "B5x2: the two streams are ids of no algorithm (`algorithm-9…`), chosen for their partitions; their partitions are parked (the bench holds their leases, so they wait unnumbered) while the backlog is published, and the owners are settled before: one sequencer owning every partition, or two owning half each, each then one below its share. Freeing the parks and announcing it as a sequencer does makes each instance with room take one at once. With two instances writing EVENTS, a writer's predicted sequences fail now and then and it falls back to shared mode (one publish in flight per stream) for 1–30 s: the refusals are in the notes.",
  "Hot windows in the bench stack: algorithm streams (B1–B5) keep 1,000,000 events, so B4 reads Redis as before; B6's and B8's streams (`b6-…`, `b8-…`, the kind HOT_WINDOW_EVENTS covers) keep 1,000. Their events go straight to INGEST as B5's do, so B6's per-event records are the sequencer's `applied:` only (a publish through the ingest gateway adds `hg:ingest:`, and `hg:idem:` with an Idempotency-Key). B8 raw is a JetStream ordered consumer filtered on the stream's subject, in a child process, consuming from the first event.",
  "B10: a webhook dispatcher started for the measure alone (production settings but WEBHOOK_ALLOW_PRIVATE_TARGETS), 10 endpoints each on its own algorithm stream, one receiver child answering 204 as soon as a body is read and verifying every signature with node:crypto. Latency is the receiver's arrival time minus the publisher's 202 time for the same signal (two child processes, CLOCK_MONOTONIC); the dispatcher posts one event at a time per endpoint, each on a new connection. The burst row counts from autocannon's first request (-c64) to the arrival that completed every stream, so it is bound by whichever of ingest and delivery is slower (both rates are in the notes). Every endpoint must receive each event of its stream once and in number order.",
];

function costSection(values: Record<string, number[]>): string {
  const table = renderCostMarkdown(values);
  if (!table) return "";
  return `
### Cost per event, by process

CPU time (user + system) and bytes through read/write system calls (sockets and files) of each process, over each benchmark's measured interval, divided by its events (\`bench/process-cost.ts\`, read from /proc by the runner). Medians of the repetitions.

${table}
`;
}

export function writeBenchmarksMd(report: RunReport): string {
  const m = report.machine;
  const md = `# Benchmarks

Latest run of \`pnpm bench${report.options.quick ? " --quick" : ""}${report.options.reps !== 3 ? ` --reps ${report.options.reps}` : ""}\` (written by the command; the lead commits it).
${report.options.quick ? "\n> **Quick run**: smaller sizes for a smoke test. These numbers are not the benchmark; run `pnpm bench` on a quiet machine.\n" : ""}
- Date: ${report.date}
- Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB memory; fd limit ${m.fdLimit}, somaxconn ${m.somaxconn}
- Versions: Node ${m.node}, ${m.nats}, ${m.redis}, ${m.nchan}
- Repetitions: ${report.options.reps} (median, min–max); benchmarks: ${report.options.only.join(", ")}
- Sizes: ${Object.entries(report.options.sizes)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}

${renderMarkdown(report.rows)}
${costSection(report.values)}
Every figure of every repetition (and extra ones such as B1's 202 rate, B3's first answer, B5's start-up) is in \`bench-results/latest.json\`.

## Notes

${[...report.failures.map((f) => `**${f}**`), ...report.notes, ...STANDING_NOTES].map((n) => `- ${n}`).join("\n")}
`;
  const path = join(REPO_ROOT, "BENCHMARKS.md");
  // The hand-written analysis (profiles, what bounds each figure) outlives the table it explains.
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  const analysisAt = previous.indexOf(ANALYSIS_MARKER);
  writeFileSync(path, analysisAt >= 0 ? `${md}\n${previous.slice(analysisAt)}` : md);
  return path;
}
