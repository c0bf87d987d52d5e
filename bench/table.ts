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
  /** `min`: the figure must be at least factor × baseline (or the absolute value); `max`: at most. */
  target?: { kind: "min" | "max"; factor?: number; absolute?: number; text: string };
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
    target: { kind: "min", factor: 0.4, text: "≥ 0.40 × R1" },
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
    target: { kind: "min", factor: 1.0, text: "≥ 1.0 × R1" },
  },
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
    if (spec.baseline) row.baselineId = spec.baseline.split(".")[0]!;
    if (baseline) {
      row.baseline = baseline;
      row.ratio = figure.median / baseline.median;
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
  const percent = row.margin! * 100;
  const pct = `${percent >= 0 ? "+" : ""}${percent.toFixed(Math.abs(percent) < 10 ? 1 : 0)}%`;
  const limit = formatNumber(row.threshold, row.unit);
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
