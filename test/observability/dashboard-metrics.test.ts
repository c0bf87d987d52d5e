import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DOCUMENT_TRADING_SIGNAL_BODY } from "@heliograph/contracts/fixtures";
import { type DevConfig, seedDemoTenant } from "@heliograph/dev-stack/seed";
import { REPO_ROOT, type Stack, startStack } from "@heliograph/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

// A panel or an alert over a metric no service exports shows nothing and never fires: both are
// checked against what the real services export.

const DASHBOARD = "deploy/grafana/heliograph-dashboard.json";
const ALERTS = "deploy/prometheus/alerts.yml";

interface Panel {
  id?: number;
  type: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: string }[] };
  panels: Panel[];
}
interface AlertRules {
  groups: { name: string; rules: { alert: string; expr: string; annotations: { summary: string } }[] }[];
}

const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, DASHBOARD), "utf8")) as Dashboard;
const alerts = parse(readFileSync(join(REPO_ROOT, ALERTS), "utf8")) as AlertRules;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queries = [
  ...panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ where: `${DASHBOARD} panel ${panel.id}`, expr: t.expr })),
  ),
  ...alerts.groups.flatMap((group) =>
    group.rules.map((rule) => ({ where: `${ALERTS} ${rule.alert}`, expr: rule.expr })),
  ),
];

/** Metric names a PromQL expression reads (every Heliograph metric, process ones included, is heliograph_*). */
const metricsOf = (expr: string) => [...expr.matchAll(/\bheliograph_[a-z0-9_]+/g)].map((m) => m[0]);

/** The sample names a /metrics text can hold: each `# TYPE` line's name, with a histogram's or summary's suffixes. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name as string);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

let stack: Stack;
let dev: DevConfig;
const exported = new Map<string, Set<string>>();

beforeAll(async () => {
  stack = await startStack({
    services: { "ingest-gateway": 1, sequencer: 1, "stream-gateway": 1, "webhook-dispatcher": 1 },
  });
  dev = await seedDemoTenant(stack);
  // One publish numbered, one read: the series created on first use exist too.
  const published = await fetch(`${dev.ingest_url}/api/v1/create_trading_signal`, {
    method: "POST",
    headers: {
      "API-KEY": dev.publisher.api_key,
      "API-SECRET": dev.publisher.api_secret,
      "content-type": "application/json",
      "X-Heliograph-Wait": "10",
    },
    body: JSON.stringify(DOCUMENT_TRADING_SIGNAL_BODY),
  });
  expect(published.status).toBe(201);
  const read = await fetch(`${dev.stream_url}/api/v1/stream/algorithm-1/-1/10`, {
    headers: { authorization: `Bearer ${dev.subscriber.token}` },
  });
  expect(read.status).toBe(200);
  for (const [name, handles] of Object.entries(stack.instances)) {
    for (const handle of handles) {
      const res = await fetch(`${handle.url}/metrics`);
      expect(res.status).toBe(200);
      exported.set(name, exportedNames(await res.text()));
    }
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("the Grafana dashboard and the Prometheus alert rules", () => {
  it("query only metrics some service exports", () => {
    expect(exported.size).toBe(4);
    const everyExported = new Set([...exported.values()].flatMap((names) => [...names]));
    const missing = queries.flatMap(({ where, expr }) =>
      metricsOf(expr)
        .filter((name) => !everyExported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it("cover every service, and every panel and rule queries a Heliograph metric", () => {
    for (const { where, expr } of queries) expect(metricsOf(expr), where).not.toEqual([]);
    const queried = new Set(queries.flatMap(({ expr }) => metricsOf(expr)));
    for (const [service, names] of exported)
      expect(
        [...queried].some((name) => names.has(name) && name.startsWith(`heliograph_${service.split("-")[0]}`)),
        service,
      ).toBe(true);
    expect(alerts.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(
      expect.arrayContaining([
        "HeliographStreamHalted",
        "HeliographIngestBacklogGrowing",
        "HeliographWebhookEndpointPaused",
        "HeliographRedisBehindEvents",
      ]),
    );
  });

  it("the dashboard reads one Prometheus datasource variable", () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    );
    const targets = panels.filter((panel) => panel.type !== "row");
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
    for (const panel of targets) {
      expect(panel.datasource, `panel ${panel.id}`).toEqual({ type: "prometheus", uid: "${datasource}" });
      for (const target of panel.targets ?? []) expect(target.datasource?.uid).toBe("${datasource}");
    }
  });
});
