/** bench-results/latest.json and BENCHMARKS.md. */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./child.js";
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
  "B3 and R4: RSS per held request is (RSS with all held − RSS before) / held, from `heliograph_process_resident_memory_bytes` of the stream gateway (process.memoryUsage for the bare server); no GC is forced, so it is an upper bound. The B3 time runs from sending the publish (to the ingest gateway) to the last answer, so it includes ingest, JetStream, the sequencer and the EVENTS hop; R4's from the release request.",
  "B5: the backlog is published straight to `ingest.<p>.<stream>` as IngestMessage JSON with the sequencer stopped, into one stream; the figure counts from the first event numbered to the head reaching the last one (process start-up and lease acquisition are reported apart as B5.startupMs in latest.json). B4 then reads that stream from -1 over HTTP without compression.",
  "Hot windows in the bench stack: algorithm streams (B1–B5) keep 1,000,000 events, so B4 reads Redis as before; B6's and B8's streams (`b6-…`, `b8-…`, the kind HOT_WINDOW_EVENTS covers) keep 1,000. Their events go straight to INGEST as B5's do, so B6's per-event records are the sequencer's `applied:` only (a publish through the ingest gateway adds `hg:ingest:`, and `hg:idem:` with an Idempotency-Key). B8 raw is a JetStream ordered consumer filtered on the stream's subject, in a child process, consuming from the first event.",
];

export function writeBenchmarksMd(report: RunReport): string {
  const m = report.machine;
  const md = `# Benchmarks

Latest run of \`pnpm bench${report.options.quick ? " --quick" : ""}${report.options.reps !== 3 ? ` --reps ${report.options.reps}` : ""}\` (written by the command; the lead commits it).
${report.options.quick ? "\n> **Quick run**: smaller sizes for a smoke test. These numbers are not the benchmark; run `pnpm bench` on a quiet machine.\n" : ""}
- Date: ${report.date}
- Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB memory; fd limit ${m.fdLimit}, somaxconn ${m.somaxconn}
- Versions: Node ${m.node}, ${m.nats}, ${m.redis}
- Repetitions: ${report.options.reps} (median, min–max); benchmarks: ${report.options.only.join(", ")}
- Sizes: ${Object.entries(report.options.sizes)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}

${renderMarkdown(report.rows)}

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
