/**
 * The one table of `pnpm bench`: each Heliograph figure beside its raw baseline, the ratio, and the
 * target with met/missed and by how much.
 */
import { type Summary, summarize } from "./stats.js";

export interface Row {
  id: string;
  what: string;
  unit: string;
  figure: Summary | undefined;
  baselineId?: string;
  baseline?: Summary;
  /** figure.median / baseline.median */
  ratio?: number;
  target?: string;
  /** The threshold in the figure's unit, when there is a target. */
  threshold?: number;
  met?: boolean;
  /** How far from the threshold, as a signed fraction of it: + is on the good side. */
  margin?: number;
}

interface Spec {
  id: string;
  key: string;
  what: string;
  unit: string;
  baseline?: string;
  /** How the baseline is named in the table (default the id in its key, e.g. R4 for `R4.time`). */
  baselineLabel?: string;
  /** `min`: the figure must be at least factor × baseline (or the absolute value); `max`: at most. */
  target?: { kind: "min" | "max"; factor?: number; absolute?: number; text: string };
}

/** B1 and B5 are targeted against R1: the factor of each and how the table names it (their specs' targets). */
export const R1_TARGETS = {
  B1: { factor: 0.4, text: "0.40 × R1" },
  B5: { factor: 1.0, text: "1.0 × R1" },
} as const;

/**
 * What the machine affords one event at a rate target against R1, and what the run spent: all
 * cores' CPU time in a second over the target rate (`<id>.budget`, µs per event), and the CPU
 * nats-server and Redis spent per event (`<id>.servers`). Everything shares the machine, the load
 * generator too, so the budget is an upper bound: when the two servers alone spend it, the target
 * is out of reach whatever Heliograph's own processes cost.
 */
export function budgetFigures(
  id: keyof typeof R1_TARGETS,
  r1Rate: number | undefined,
  cores: number,
  figures: Record<string, number>,
): Record<string, number> {
  const nats = figures[`${id}.cpu.nats`];
  const redis = figures[`${id}.cpu.redis`];
  if (!r1Rate || nats === undefined || redis === undefined) return {};
  return {
    [`${id}.budget`]: (cores * 1_000_000) / (R1_TARGETS[id].factor * r1Rate),
    [`${id}.servers`]: nats + redis,
  };
}

function budgetSpecs(id: keyof typeof R1_TARGETS, per: string): Spec[] {
  const target = R1_TARGETS[id].text;
  return [
    {
      id: `${id} budget`,
      key: `${id}.budget`,
      what: `CPU per ${per} the machine affords at ${id}'s target: all cores' µs per second / (${target} of the same repetition)`,
      unit: "µs",
    },
    {
      id: `${id} spent`,
      key: `${id}.cpu.total`,
      what: `CPU per ${per} the run spent, the five processes of the cost table (the load generator's not counted); ratio to the budget`,
      unit: "µs",
      baseline: `${id}.budget`,
      baselineLabel: `${id} budget`,
    },
    {
      id: `${id} servers`,
      key: `${id}.servers`,
      what: "of which nats-server and Redis; at 1.00× or more of the budget the target is out of reach whatever Heliograph's services cost",
      unit: "µs",
      baseline: `${id}.budget`,
      baselineLabel: `${id} budget`,
    },
  ];
}

const SPECS: Spec[] = [
  { id: "R1", key: "R1.rate", what: "JetStream async publish, one Node process, 300 B, 256 in flight", unit: "msg/s" },
  { id: "R2", key: "R2.rate", what: "sequencer Lua step alone, 1 message/call, 100 calls pipelined", unit: "msg/s" },
  { id: "R2b", key: "R2b.rate", what: "sequencer Lua step alone, 100 messages/call, 8 calls in flight", unit: "msg/s" },
  { id: "R3", key: "R3.rate", what: "bare Fastify POST 300 B JSON → 202 (autocannon -c50)", unit: "req/s" },
  { id: "R4", key: "R4.time", what: "bare Fastify long poll: release → last of the held answered", unit: "ms" },
  { id: "R4 RSS", key: "R4.rss", what: "bare Fastify long poll: RSS per held request", unit: "KB" },
  { id: "R5", key: "R5.rate", what: "Redis XRANGE, 1,000 entries per call", unit: "entries/s" },
  {
    id: "B1",
    key: "B1.rate",
    what: "ingest: signals/s answered 202 and numbered (every 202 checked in the log)",
    unit: "signals/s",
    baseline: "R1.rate",
    target: { kind: "min", factor: R1_TARGETS.B1.factor, text: `≥ ${R1_TARGETS.B1.text}` },
  },
  {
    id: "B2 p50",
    key: "B2.p50",
    what: "latency 202 → subscriber's waiting long poll has it, at 1,000/s",
    unit: "ms",
    target: { kind: "max", absolute: 2, text: "≤ 2 ms" },
  },
  {
    id: "B2 p99",
    key: "B2.p99",
    what: "same, p99",
    unit: "ms",
    target: { kind: "max", absolute: 10, text: "≤ 10 ms" },
  },
  { id: "B2 p99.9", key: "B2.p999", what: "same, p99.9", unit: "ms" },
  {
    id: "N2 p50",
    key: "N2.p50",
    what: "Nchan peer: latency publisher's answer → a waiting long-poll follower has it, B2's rate",
    unit: "ms",
  },
  { id: "N2 p99", key: "N2.p99", what: "same, p99", unit: "ms" },
  { id: "N2 p99.9", key: "N2.p999", what: "same, p99.9", unit: "ms" },
  {
    id: "N2 sent p50",
    key: "N2.sentP50",
    what: "Nchan peer: publish sent → the follower has it (Nchan answers its publisher after delivering)",
    unit: "ms",
  },
  { id: "N2 sent p99", key: "N2.sentP99", what: "same, p99", unit: "ms" },
  {
    id: "B2/N2 sent p50",
    key: "B2.sentP50",
    // Against the publish sent, not its answer: Nchan answers its publisher only after it has
    // written the message to the waiting subscribers, so its answer-based p50 is ~0.
    what: "B2 from the publish sent (not its 202) against N2 sent",
    unit: "ms",
    baseline: "N2.sentP50",
    baselineLabel: "N2 sent p50",
    target: { kind: "max", factor: 4, text: "≤ 4 × N2 sent p50" },
  },
  {
    id: "B2/N2 sent p99",
    key: "B2.sentP99",
    what: "same, p99",
    unit: "ms",
    baseline: "N2.sentP99",
    baselineLabel: "N2 sent p99",
    target: { kind: "max", factor: 8, text: "≤ 8 × N2 sent p99" },
  },
  {
    id: "B3",
    key: "B3.time",
    what: "fan-out: long polls held on one stream, one publish → last answered",
    unit: "ms",
    baseline: "R4.time",
    target: { kind: "max", factor: 1.5, text: "≤ 1.5 × R4" },
  },
  {
    id: "B3 RSS",
    key: "B3.rss",
    what: "fan-out: stream-gateway RSS per held request",
    unit: "KB",
    baseline: "R4.rss",
    target: { kind: "max", absolute: 20, text: "≤ 20 KB" },
  },
  {
    id: "N3",
    key: "N3.time",
    what: "Nchan peer fan-out: long polls held on one channel, one publish → last answered",
    unit: "ms",
  },
  { id: "N3 RSS", key: "N3.rss", what: "Nchan peer fan-out: nginx worker RSS per held poll", unit: "KB" },
  {
    id: "B3/N3",
    key: "B3.time",
    what: "B3 against Nchan's fan-out (N3)",
    unit: "ms",
    baseline: "N3.time",
    target: { kind: "max", factor: 2, text: "≤ 2 × N3" },
  },
  {
    id: "B3/N3 RSS",
    key: "B3.rss",
    what: "B3 RSS per held request against Nchan's (N3 RSS)",
    unit: "KB",
    baseline: "N3.rss",
    baselineLabel: "N3 RSS",
    target: { kind: "max", factor: 1.5, text: "≤ 1.5 × N3 RSS" },
  },
  {
    id: "B3x2 one",
    key: "B3x2one.time",
    what: "scale-out fan-out: 2 × N long polls on one stream, ONE stream gateway (its own), one publish → last answered",
    unit: "ms",
  },
  {
    id: "B3x2 front",
    key: "B3x2front.time",
    what: "same, TWO stream gateways behind the cluster's front (round-robin proxy, its own process); ratio two / one",
    unit: "ms",
    baseline: "B3x2one.time",
  },
  {
    id: "B3x2 direct",
    key: "B3x2direct.time",
    what: "same, TWO stream gateways, the clients split over their ports (no front); ratio two / one",
    unit: "ms",
    baseline: "B3x2one.time",
  },
  { id: "B3x2 RSS one", key: "B3x2one.rss", what: "scale-out fan-out: RSS per held poll, one gateway", unit: "KB" },
  {
    id: "B3x2 RSS gw1",
    key: "B3x2front.rss.stream",
    what: "two gateways behind the front: RSS per poll the first held (B3x2 RSS one: the one gateway's)",
    unit: "KB",
  },
  {
    id: "B3x2 RSS gw2",
    key: "B3x2front.rss.stream2",
    what: "same, the second",
    unit: "KB",
  },
  { id: "B3x2 front RSS", key: "B3x2front.frontRss", what: "the front's RSS per poll it holds", unit: "KB" },
  {
    id: "B3x2 front CPU",
    key: "B3x2front.frontHoldCpu",
    what: "the front's CPU per poll, connecting and holding it (per answer: the cost table)",
    unit: "µs",
  },
  {
    id: "B3x2 CPU one",
    key: "B3x2one.cpu.stream",
    what: "the one gateway's CPU per answer",
    unit: "µs",
  },
  ...[
    ["front", "gw1", "stream"],
    ["front", "gw2", "stream2"],
    ["direct", "gw1", "stream"],
    ["direct", "gw2", "stream2"],
  ].map(
    ([how, short, name]): Spec => ({
      id: `B3x2 CPU ${how} ${short}`,
      key: `B3x2${how}.own.${name}`,
      what: `two gateways (${how}): ${short}'s CPU per answer it gave; ratio to one gateway's`,
      unit: "µs",
      baseline: "B3x2one.cpu.stream",
    }),
  ),
  {
    id: "B3x2 CPU front",
    key: "B3x2front.cpu.front",
    what: "the front's CPU per answer it forwarded; ratio to one gateway's",
    unit: "µs",
    baseline: "B3x2one.cpu.stream",
  },
  {
    id: "B9",
    key: "B9.time",
    what: "SSE fan-out: event streams open on one stream, one publish → last delivered",
    unit: "ms",
    baseline: "B3.time",
  },
  {
    id: "B9 RSS",
    key: "B9.rss",
    what: "SSE fan-out: stream-gateway RSS per open event stream",
    unit: "KB",
    baseline: "B3.rss",
  },
  {
    id: "B10 p50",
    key: "B10.p50",
    what: "webhooks: latency 202 → the receiver has the POST, 1,000 events/s over 10 endpoints (a stream each)",
    unit: "ms",
  },
  { id: "B10 p99", key: "B10.p99", what: "same, p99", unit: "ms" },
  { id: "B10 p99.9", key: "B10.p999", what: "same, p99.9", unit: "ms" },
  { id: "B10 rate", key: "B10.rate", what: "same, deliveries received per second", unit: "events/s" },
  {
    id: "B10 burst",
    key: "B10.burstRate",
    what: "webhooks: a burst posted as fast as ingest takes it to the 10 streams, first POST → receivers have all",
    unit: "events/s",
  },
  {
    id: "B4",
    key: "B4.rate",
    what: "catch-up: reading a stream over HTTP, 1,000 per request",
    unit: "events/s",
    baseline: "R5.rate",
    target: { kind: "min", factor: 0.3, text: "≥ 0.30 × R5" },
  },
  {
    id: "B5",
    key: "B5.rate",
    what: "sequencer drain of an INGEST backlog",
    unit: "events/s",
    baseline: "R1.rate",
    target: { kind: "min", factor: R1_TARGETS.B5.factor, text: `≥ ${R1_TARGETS.B5.text}` },
  },
  ...budgetSpecs("B1", "signal"),
  ...budgetSpecs("B5", "event"),
  {
    id: "B5x2 one",
    key: "B5x2one.rate",
    what: "scale-out drain: the backlog over two streams on two partitions, ONE sequencer owning both",
    unit: "events/s",
    baseline: "B5.rate",
  },
  {
    id: "B5x2 two",
    key: "B5x2two.rate",
    what: "same, TWO sequencers owning one partition each; ratio two / one",
    unit: "events/s",
    baseline: "B5x2one.rate",
  },
  {
    id: "B5x2 CPU one",
    key: "B5x2one.cpu.sequencer",
    what: "the one sequencer's CPU per event",
    unit: "µs",
  },
  ...(["sequencer", "sequencer2"] as const).map(
    (name, i): Spec => ({
      id: `B5x2 CPU two s${i + 1}`,
      key: `B5x2two.own.${name}`,
      what: `two sequencers: ${name}'s CPU per event it numbered; ratio to one sequencer's`,
      unit: "µs",
      baseline: "B5x2one.cpu.sequencer",
    }),
  ),
  {
    id: "B6 log",
    key: "B6.logSpread",
    what: "hot tier: the Redis logs' memory once 1,000-event windows are full, spread over the samples",
    unit: "%",
    target: { kind: "max", absolute: 10, text: "≤ 10% (flat)" },
  },
  {
    id: "B6 used",
    key: "B6.usedSpread",
    what: "same, Redis used_memory (grows with the per-event records until their TTL)",
    unit: "%",
  },
  {
    id: "B6 B/event",
    key: "B6.logBytesPerEvent",
    what: "hot tier: log bytes per retained event, against the event text (B6 text)",
    unit: "B",
    baseline: "B6.eventBytes",
    target: { kind: "max", factor: 2, text: "≤ 2 × text" },
  },
  { id: "B6 text", key: "B6.eventBytes", what: "the event text (JSON) of B6's events", unit: "B" },
  {
    id: "B6 records",
    key: "B6.recordBytesPerEvent",
    what: "used_memory added per event outside the log once windows are full (applied: record)",
    unit: "B",
  },
  {
    id: "B8 raw",
    key: "B8raw.rate",
    what: "JetStream ordered consumer reading one stream of EVENTS",
    unit: "events/s",
  },
  {
    id: "B8",
    key: "B8.rate",
    what: "cold catch-up: reading a stream over HTTP with a 1,000-event window (from EVENTS)",
    unit: "events/s",
    baseline: "B8raw.rate",
    target: { kind: "min", factor: 0.3, text: "≥ 0.30 × B8 raw" },
  },
  {
    id: "B7 p50",
    key: "B7.p50",
    what: "failover: kill -9 of the owning sequencer (one of two) → every affected stream numbered again, p50 of the kills",
    unit: "ms",
  },
  {
    id: "B7 p95",
    key: "B7.p95",
    what: "same, p95",
    unit: "ms",
    target: { kind: "max", absolute: 3_000, text: "≤ 3 s" },
  },
];

export function buildRows(values: Map<string, number[]>): Row[] {
  const rows: Row[] = [];
  for (const spec of SPECS) {
    const got = values.get(spec.key);
    if (!got || got.length === 0) continue;
    const figure = summarize(got);
    const baselineValues = spec.baseline ? values.get(spec.baseline) : undefined;
    const baseline = baselineValues?.length ? summarize(baselineValues) : undefined;
    const row: Row = { id: spec.id, what: spec.what, unit: spec.unit, figure };
    if (spec.baseline) row.baselineId = spec.baselineLabel ?? spec.baseline.split(".")[0]!;
    if (baseline) {
      row.baseline = baseline;
      // A baseline of 0 (Nchan's N2 p50 can be: most messages reach the follower before the
      // publisher reads its answer) has no ratio.
      if (baseline.median > 0) row.ratio = figure.median / baseline.median;
    }
    if (spec.target) {
      row.target = spec.target.text;
      const threshold =
        spec.target.absolute !== undefined
          ? spec.target.absolute
          : baseline
            ? spec.target.factor! * baseline.median
            : undefined;
      if (threshold !== undefined && Number.isFinite(figure.median)) {
        row.threshold = threshold;
        row.met = spec.target.kind === "min" ? figure.median >= threshold : figure.median <= threshold;
        if (threshold !== 0)
          row.margin =
            spec.target.kind === "min" ? figure.median / threshold - 1 : (threshold - figure.median) / threshold;
      }
    }
    rows.push(row);
  }
  return rows;
}

export function formatNumber(n: number | undefined, unit = ""): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  const abs = Math.abs(n);
  const text =
    abs >= 100_000
      ? `${(n / 1000).toFixed(0)}k`
      : abs >= 10_000
        ? `${(n / 1000).toFixed(1)}k`
        : abs >= 100
          ? n.toFixed(0)
          : abs >= 10
            ? n.toFixed(1)
            : n.toFixed(2);
  return unit ? `${text} ${unit}` : text;
}

const summaryText = (s: Summary | undefined, unit: string) =>
  s ? `${formatNumber(s.median, unit)} (${formatNumber(s.min)}–${formatNumber(s.max)})` : "–";

function verdict(row: Row): string {
  if (!row.target) return "";
  if (row.met === undefined) return "no baseline";
  const limit = formatNumber(row.threshold, row.unit);
  if (row.margin === undefined) return row.met ? `met vs ${limit}` : `MISSED vs ${limit}`;
  const percent = row.margin * 100;
  const pct = `${percent >= 0 ? "+" : ""}${percent.toFixed(Math.abs(percent) < 10 ? 1 : 0)}%`;
  return row.met ? `met, ${pct} vs ${limit}` : `MISSED by ${pct.replace("-", "")} vs ${limit}`;
}

function cells(row: Row): string[] {
  return [
    row.id,
    summaryText(row.figure, row.unit),
    row.baselineId ? `${row.baselineId} ${summaryText(row.baseline, "")}` : "",
    row.ratio === undefined ? "" : `${row.ratio.toFixed(2)}×`,
    row.target ?? "",
    verdict(row),
  ];
}

const HEADER = ["id", "median (min–max)", "raw baseline", "ratio", "target", "verdict"];

export function renderText(rows: Row[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return [line(table[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...table.slice(1).map(line)].join("\n");
}

export function renderMarkdown(rows: Row[]): string {
  const head = ["id", "what", ...HEADER.slice(1)];
  const body = rows.map((row) => {
    const c = cells(row);
    return [c[0]!, row.what, ...c.slice(1)];
  });
  const esc = (s: string) => s.replaceAll("|", "\\|");
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...body.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}
