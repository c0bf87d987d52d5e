import { collectDefaultMetrics, type Metric, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** One registry per process, with Node's default metrics, every name prefixed `heliograph_`. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "heliograph_" });
  return registry;
}

/**
 * The metric `name` of the registry, created by `create` the first time: a process serving two
 * listeners (the ingest gateway's public and admin apps) counts both in one series per label set.
 */
export function registeredOnce<M extends Metric>(registry: Registry, name: string, create: (name: string) => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create(name);
}
