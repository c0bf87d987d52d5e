import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@heliograph/testkit";
import { describe, expect, it } from "vitest";
import { Pair, parseDocument, Scalar, visit, YAMLMap } from "yaml";

// deploy/compose as `docker compose -f docker-compose.yml [-f redis-cluster.yml]` would run it. No
// Docker engine here, so the files are merged the way Compose merges services (the Compose
// Specification's merge rules) for the fields that decide what connects to what: environment, depends_on, profiles.

// biome-ignore lint/suspicious/noExplicitAny: Compose services of every shape
type Service = Record<string, any>;
type Services = Record<string, Service>;

const RESET = "!reset";
const OVERRIDE = "!override";
// Compose's own tags: a value so tagged replaces (or removes) the one before it instead of merging.
const composeTags = ["map", "seq", "scalar"].flatMap((collection) =>
  [RESET, OVERRIDE].map((tag) => ({ tag, collection: collection as "map" | "seq", resolve: (v: unknown) => v })),
);

/** A compose file's services, anchors and `<<` merged; a `!reset`/`!override` value as `{ "!reset": value }`. */
function servicesOf(file: string): Services {
  const doc = parseDocument(readFileSync(join(REPO_ROOT, "deploy/compose", file), "utf8"), {
    merge: true,
    customTags: composeTags,
  });
  visit(doc, {
    Pair(_, pair) {
      const value = pair.value as { tag?: string } | null;
      if (value?.tag !== RESET && value?.tag !== OVERRIDE) return;
      const tag = value.tag;
      value.tag = undefined;
      const marked = new YAMLMap();
      marked.items.push(new Pair(new Scalar(tag), value));
      pair.value = marked;
    },
  });
  expect(doc.errors, file).toEqual([]);
  return normalized(doc.toJS().services);
}

/** environment and depends_on in their map forms (both may be written as lists). */
function normalized(services: Services): Services {
  const out: Services = {};
  for (const [name, service] of Object.entries(services ?? {})) {
    const s: Service = { ...(service ?? {}) };
    if (Array.isArray(s.environment))
      s.environment = Object.fromEntries(
        s.environment.map((e: string) => [e.split("=", 1)[0], e.slice(e.indexOf("=") + 1)]),
      );
    if (Array.isArray(s.depends_on))
      s.depends_on = Object.fromEntries(s.depends_on.map((d: string) => [d, { condition: "service_started" }]));
    out[name] = s;
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
// Shell commands are replaced whole, not appended to (the merge rules' exceptions).
const REPLACED = new Set(["command", "entrypoint", "test"]);

function merged(base: unknown, override: unknown, key = ""): unknown {
  if (isObject(override) && RESET in override) return undefined;
  if (isObject(override) && OVERRIDE in override) return override[OVERRIDE];
  if (Array.isArray(base) && Array.isArray(override) && !REPLACED.has(key)) return [...new Set([...base, ...override])];
  if (isObject(base) && isObject(override)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(override)) {
      const value = merged(base[k], v, k);
      if (value === undefined) delete out[k];
      else out[k] = value;
    }
    return out;
  }
  return override;
}

const composed = (...files: string[]): Services =>
  files.map(servicesOf).reduce((all, next) => merged(all, next) as Services);

/** What `docker compose up` starts: the services in no profile. */
const started = (services: Services) => Object.keys(services).filter((name) => !services[name]?.profiles?.length);
const heliographServices = (services: Services) =>
  Object.keys(services).filter((name) => String(services[name]?.image).includes("HELIOGRAPH_IMAGE"));

function expectDependenciesStart(services: Services) {
  const running = started(services);
  for (const name of running)
    for (const target of Object.keys(services[name]?.depends_on ?? {}))
      expect(running, `${name} depends on ${target}, which must be a service that starts`).toContain(target);
}

describe("deploy/compose merged as docker compose -f … -f … would", () => {
  it("docker-compose.yml alone: every service's dependencies start, and the four services share one Redis", () => {
    const services = composed("docker-compose.yml");
    expectDependenciesStart(services);
    expect(heliographServices(services).sort()).toEqual([
      "ingest-gateway",
      "sequencer",
      "stream-gateway",
      "webhook-dispatcher",
    ]);
    for (const name of heliographServices(services))
      expect(services[name]?.environment?.REDIS_URL, name).toBe("redis://redis:6379");
  });

  it("with redis-cluster.yml: every service with REDIS_URL has the six cluster nodes, and none waits on the single Redis", () => {
    const services = composed("docker-compose.yml", "redis-cluster.yml");
    expectDependenciesStart(services);
    const running = started(services);
    expect(running).not.toContain("redis");
    const nodes = running.filter((name) =>
      [services[name]?.command].flat(2).join(" ").includes("--cluster-enabled yes"),
    );
    expect(nodes).toHaveLength(6);
    const withRedis = running.filter((name) => services[name]?.environment?.REDIS_URL !== undefined);
    // Every Heliograph service, whatever its name: one added to docker-compose.yml shows up here.
    expect(withRedis).toEqual(expect.arrayContaining(heliographServices(services)));
    expect(heliographServices(services).length).toBeGreaterThanOrEqual(4);
    for (const name of withRedis) {
      const hosts = String(services[name]?.environment.REDIS_URL)
        .split(",")
        .map((u) => new URL(u).hostname);
      expect(hosts.sort(), `${name} REDIS_URL`).toEqual([...nodes].sort());
      // The client may connect only once the nodes are joined into one cluster.
      expect(services[name]?.depends_on?.["redis-cluster-create"]?.condition, name).toBe(
        "service_completed_successfully",
      );
    }
  });
});
