import { Counter, Gauge, Histogram, type Registry } from "@heliograph/platform";

/**
 * The sequencer's metrics. A sequencer created again on the same registry (restarted within one
 * process) reuses what is registered there: prom-client refuses a name registered twice.
 */
export function createMetrics(registry: Registry) {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    events: get(
      "heliograph_sequencer_events_total",
      () => new Counter({ name: "heliograph_sequencer_events_total", help: "Events numbered", registers: [registry] }),
    ),
    batchSize: get(
      "heliograph_sequencer_batch_size",
      () =>
        new Histogram({
          name: "heliograph_sequencer_batch_size",
          help: "INGEST messages per numbering batch",
          buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
          registers: [registry],
        }),
    ),
    stepSeconds: get(
      "heliograph_sequencer_step_seconds",
      () =>
        new Histogram({
          name: "heliograph_sequencer_step_seconds",
          help: "Duration of a batch's Redis numbering step (all its streams)",
          buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
          registers: [registry],
        }),
    ),
    numberingDelay: get(
      "heliograph_sequencer_numbering_delay_seconds",
      () =>
        new Histogram({
          name: "heliograph_sequencer_numbering_delay_seconds",
          help: "From a publish's storing in INGEST (its JetStream timestamp) to its numbering, per event numbered from INGEST (not those drained after a halt)",
          buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [registry],
        }),
    ),
    retries: get(
      "heliograph_sequencer_retries_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_retries_total",
          help: "Retries after a transient failure, by operation",
          labelNames: ["operation"] as const,
          registers: [registry],
        }),
    ),
    halted: get(
      "heliograph_sequencer_halted_messages_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_halted_messages_total",
          help: "INGEST messages kept in a held list, not numbered, because their stream is halted",
          registers: [registry],
        }),
    ),
    halts: get(
      "heliograph_sequencer_halts_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_halts_total",
          help: "Streams halted by a message that breaks their integrity rules",
          registers: [registry],
        }),
    ),
    drained: get(
      "heliograph_sequencer_drained_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_drained_total",
          help: "Held publishes numbered after their stream's halt was resolved",
          registers: [registry],
        }),
    ),
    resyncs: get(
      "heliograph_sequencer_resyncs_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_resyncs_total",
          help: "Partition consumers recreated to restore INGEST order",
          registers: [registry],
        }),
    ),
    recordRefusals: get(
      "heliograph_sequencer_record_refusals_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_record_refusals_total",
          help: "Conditional EVENTS publishes refused (another writer's messages between a chain's events, or someone else wrote the stream), reconciled with the record",
          registers: [registry],
        }),
    ),
    repairs: get(
      "heliograph_sequencer_record_repairs_total",
      () =>
        new Counter<"direction">({
          name: "heliograph_sequencer_record_repairs_total",
          help: "Streams whose Redis state was found behind EVENTS (replayed into Redis) or ahead of it (published to EVENTS)",
          labelNames: ["direction"] as const,
          registers: [registry],
        }),
    ),
    replayed: get(
      "heliograph_sequencer_replayed_events_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_replayed_events_total",
          help: "Events read back from EVENTS into a Redis that was behind it",
          registers: [registry],
        }),
    ),
    verifications: get(
      "heliograph_sequencer_verifications_total",
      () =>
        new Counter({
          name: "heliograph_sequencer_verifications_total",
          help: "Streams whose Redis state was compared with EVENTS (on taking a partition, after Redis reconnected, on request)",
          registers: [registry],
        }),
    ),
    owned: get(
      "heliograph_sequencer_partitions_owned",
      () =>
        new Gauge({
          name: "heliograph_sequencer_partitions_owned",
          help: "Partitions this instance holds a lease on",
          registers: [registry],
        }),
    ),
  };
}
export type SequencerMetrics = ReturnType<typeof createMetrics>;
