/**
 * `pnpm bench`: starts its own NATS, Redis and the three services (B10 adds a webhook dispatcher
 * for its own measure, N2 and N3 an nginx with Nchan for theirs), measures the raw speed of the
 * parts, Heliograph's own figures and Nchan's in the same run, prints one table and writes
 * bench-results/latest.json and BENCHMARKS.md. `--soak 10m` runs the soak mode instead. Not part
 * of `pnpm test`.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { nowMs } from "./clock.js";
import { renderCostText } from "./cost-table.js";
import { b7 } from "./failover.js";
import { b3x2, frontDescriptors } from "./gateway-scale-out.js";
import { type Backlog, b1, b2, b3, b4, b5, b9 } from "./heliograph-bench.js";
import { b6, b8 } from "./hot-tier-bench.js";
import { n2, n3 } from "./nchan-bench.js";
import { BENCH_IDS, type BenchId, type Options, parseOptions } from "./options.js";
import { type RepResult, r1, r2, r3, r4, r5 } from "./raw.js";
import { machine, type RunReport, writeBenchmarksMd, writeJson } from "./report.js";
import { b5x2 } from "./sequencer-scale-out.js";
import { runSoak } from "./soak.js";
import { type BenchServers, type Heliograph, startBenchServers, startHeliograph } from "./stack.js";
import { budgetFigures, buildRows, formatNumber, renderText } from "./table.js";
import { b10 } from "./webhook-bench.js";

/**
 * Thousands of held connections need as many descriptors in the server and the client: raise the
 * soft limit to the hard one and run again, so every child (NATS, Redis, services, load
 * generators) inherits it. Node cannot call setrlimit itself.
 */
function ensureFdLimit(needed: number): void {
  const read = (flag: string) => spawnSync("sh", ["-c", `ulimit ${flag}`], { encoding: "utf8" }).stdout.trim();
  const soft = read("-Sn");
  const hard = read("-Hn");
  const softN = soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
  const hardN = hard === "unlimited" ? Number.POSITIVE_INFINITY : Number(hard);
  if (softN >= needed || process.env.HG_BENCH_FD_RAISED === "1") {
    if (softN < needed)
      console.warn(`warning: fd limit ${soft} is below the ${needed} this run needs (hard limit ${hard})`);
    return;
  }
  if (hardN < needed)
    console.warn(`warning: hard fd limit ${hard} is below the ${needed} this run needs; raising what it allows`);
  const target = hard === "unlimited" ? String(Math.max(needed, 65_536)) : hard;
  const child = spawn(
    "sh",
    [
      "-c",
      `ulimit -n ${target} && exec "$@"`,
      "sh",
      process.execPath,
      ...process.execArgv,
      process.argv[1]!,
      ...process.argv.slice(2),
    ],
    { stdio: "inherit", env: { ...process.env, HG_BENCH_FD_RAISED: "1" } },
  );
  // Ctrl-C reaches the whole foreground group; this process only waits for the real run.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  throw new ReexecSignal();
}
class ReexecSignal extends Error {}

const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

async function main(): Promise<number> {
  const options: Options = parseOptions(process.argv.slice(2));
  try {
    ensureFdLimit(
      Math.max(
        Math.max(options.sizes.heldPolls, options.soak?.followers ?? 0) * 2 + 2_000,
        options.only.has("B3x2") ? frontDescriptors(options.sizes) : 0,
      ),
    );
  } catch (err) {
    if (err instanceof ReexecSignal) return -1;
    throw err;
  }
  log("starting NATS and Redis");
  const servers: BenchServers = await startBenchServers();
  let h: Heliograph | undefined;
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    await h?.stop().catch(() => {});
    await servers.stop().catch(() => {});
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void stopAll().then(() => process.exit(130));
    });
  try {
    const needsStack = options.soak !== undefined || [...options.only].some((id) => id.startsWith("B"));
    if (needsStack) {
      log("starting ingest-gateway, sequencer, stream-gateway");
      h = await startHeliograph(servers);
    }
    if (options.soak) {
      return await runSoak(h!, options.soak, log);
    }
    return await runTable(options, servers, h, log);
  } finally {
    await stopAll();
  }
}

async function runTable(
  options: Options,
  servers: BenchServers,
  h: Heliograph | undefined,
  log: (message: string) => void,
): Promise<number> {
  const values = new Map<string, number[]>();
  const notes: string[] = [];
  const failures: string[] = [];
  const started = nowMs();
  let backlog: Backlog | undefined;
  /** R1 of each repetition: B1's and B5's budgets are taken against the R1 measured beside them. */
  const r1ByRep = new Map<number, number>();
  const measure = async (id: BenchId, rep: number): Promise<RepResult> => {
    const { sizes } = options;
    switch (id) {
      case "R1":
        return r1(servers, sizes, rep);
      case "R2":
        return r2(servers, sizes, rep);
      case "R3":
        return r3(servers, sizes, rep);
      case "R4":
        return r4(servers, sizes, rep);
      case "R5":
        return r5(servers, sizes, rep);
      case "B5": {
        const result = await b5(h!, sizes, rep);
        backlog = result.backlog;
        return result;
      }
      case "B5x2":
        return b5x2(h!, sizes, rep);
      case "B4": {
        if (!backlog) {
          log("B4 needs a numbered stream: building one the way B5 does (not timed)");
          backlog = (await b5(h!, sizes, 0)).backlog;
        }
        return b4(h!, backlog, rep);
      }
      case "B1":
        return b1(h!, sizes, rep);
      case "B2":
        return b2(h!, sizes, rep);
      case "B3":
        return b3(h!, sizes, rep);
      case "N2":
        return n2(sizes, rep, log);
      case "N3":
        return n3(sizes, rep, log);
      case "B3x2":
        return b3x2(h!, sizes, rep);
      case "B9":
        return b9(h!, sizes, rep);
      case "B10":
        return b10(h!, sizes, rep);
      case "B6":
        return b6(h!, sizes, rep);
      case "B8":
        return b8(h!, sizes, rep);
      case "B7":
        return b7(h!, sizes, rep);
    }
  };
  // Repetitions interleaved, so a noisy moment of the machine spreads over raw and Heliograph alike.
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const id of BENCH_IDS) {
      if (!options.only.has(id)) continue;
      const t0 = nowMs();
      try {
        const result = await measure(id, rep);
        if (id === "R1") r1ByRep.set(rep, result.figures["R1.rate"]!);
        if (id === "B1" || id === "B5")
          Object.assign(result.figures, budgetFigures(id, r1ByRep.get(rep), cpus().length, result.figures));
        for (const [key, value] of Object.entries(result.figures)) {
          if (!values.has(key)) values.set(key, []);
          values.get(key)!.push(value);
        }
        notes.push(...result.notes);
        for (const note of result.notes) log(`  ${note}`);
        const shown = Object.entries(result.figures)
          .map(([k, v]) => `${k} ${formatNumber(v)}`)
          .join(", ");
        log(`rep ${rep}/${options.reps} ${id}: ${shown} (${((nowMs() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        const message = `${id} rep ${rep} failed: ${(err as Error).message.split("\n").slice(0, 6).join(" / ")}`;
        failures.push(message);
        log(message);
      }
    }
  }
  const rows = buildRows(values);
  console.log(`\n${renderText(rows)}\n`);
  const costs = renderCostText(Object.fromEntries(values));
  if (costs) console.log(`Per-event cost (CPU µs / I/O bytes, medians):\n${costs}\n`);
  const report: RunReport = {
    date: new Date().toISOString(),
    options: { reps: options.reps, only: [...options.only], quick: options.quick, sizes: options.sizes },
    machine: machine(),
    rows,
    values: Object.fromEntries(values),
    notes,
    failures,
  };
  const json = writeJson(report);
  // BENCHMARKS.md is committed: only a run of every benchmark replaces it, never an --only run.
  const complete = BENCH_IDS.every((id) => options.only.has(id));
  const md = complete ? ` and ${writeBenchmarksMd(report)}` : " (an --only run: BENCHMARKS.md left as it was)";
  log(`wrote ${json}${md} (${((nowMs() - started) / 1000).toFixed(0)} s)`);
  for (const failure of failures) log(`FAILED: ${failure}`);
  const checkFailed = notes.some((n) => n.startsWith("FAILED CHECK"));
  return failures.length > 0 || checkFailed ? 1 : 0;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
