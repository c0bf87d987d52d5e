/**
 * The per-event cost table (figures of process-cost.ts): for each benchmark that charges its
 * processes, the median CPU µs and I/O bytes per event of every component.
 */
import { summarize } from "./stats.js";
import { formatNumber } from "./table.js";

const COSTED: Array<{ id: string; per: string }> = [
  { id: "R1", per: "message stored by a raw JetStream publish (nats-server alone is charged)" },
  { id: "B1", per: "signal accepted (202) and numbered, under B1's load" },
  { id: "B5", per: "event drained from an INGEST backlog (the sequencer alone is busy)" },
  { id: "B2", per: "event at 1,000/s with one follower waiting" },
  { id: "B3", per: "held long poll answered (one event woke them all)" },
  { id: "B9", per: "open event stream written to (one event woke them all)" },
  { id: "B3x2one", per: "held long poll answered, 2 × N on one stream gateway" },
  { id: "B3x2front", per: "same, two stream gateways behind the front" },
  { id: "B3x2direct", per: "same, two stream gateways, the clients split over their ports" },
  { id: "B5x2one", per: "event drained from a backlog on two partitions, one sequencer" },
  { id: "B5x2two", per: "same, two sequencers owning one partition each" },
];

export const COST_COMPONENTS = ["ingest", "sequencer", "stream", "nats", "redis"] as const;
/** Processes only the scale-out measures run: a column each only when one of them was charged. */
const SCALE_OUT_COMPONENTS = ["sequencer2", "stream2", "front"] as const;

function componentsOf(values: Record<string, number[]>): string[] {
  const extra = SCALE_OUT_COMPONENTS.filter((name) => COSTED.some(({ id }) => values[`${id}.cpu.${name}`]));
  return [...COST_COMPONENTS, ...extra];
}

const median = (values: number[] | undefined) => (values?.length ? summarize(values).median : Number.NaN);

/** Rows of the cost table: one per costed benchmark that ran, cells "CPU µs / bytes". */
function costRows(values: Record<string, number[]>, components: string[]): string[][] {
  const rows: string[][] = [];
  for (const { id, per } of COSTED) {
    if (!values[`${id}.cpu.total`]) continue;
    const cells = components.map((name) => {
      const cpu = median(values[`${id}.cpu.${name}`]);
      const bytes = median(values[`${id}.bytes.${name}`]);
      // A process the benchmark did not run.
      if (Number.isNaN(cpu) && Number.isNaN(bytes)) return "–";
      return `${formatNumber(cpu)} µs / ${formatNumber(bytes)} B`;
    });
    rows.push([id, per, ...cells, `${formatNumber(median(values[`${id}.cpu.total`]))} µs`]);
  }
  return rows;
}

const header = (components: string[]) => ["id", "per", ...components.map((c) => `${c} CPU / I/O`), "CPU total"];

/** The table in Markdown, or "" when no benchmark of the run was costed. */
export function renderCostMarkdown(values: Record<string, number[]>): string {
  const components = componentsOf(values);
  const rows = costRows(values, components);
  if (rows.length === 0) return "";
  const head = header(components);
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** The same for the terminal. */
export function renderCostText(values: Record<string, number[]>): string {
  const components = componentsOf(values);
  const rows = costRows(values, components).map(([id, , ...cells]) => [id!, ...cells]);
  if (rows.length === 0) return "";
  const head = header(components);
  const table = [[head[0]!, ...head.slice(2)], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  return table
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
