import { INGEST_STREAM, ingestPartitionFilter, ingestSubject, sequencerConsumerName } from "@heliograph/contracts";
import { createLogger, createMetricsRegistry } from "@heliograph/platform";
import { haltedStreamsKey } from "@heliograph/store";
import { AckPolicy } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { useSequencerServers } from "../test/sequencer-fixture.js";
import { registerBacklogMetrics } from "./backlog-metrics.js";

const log = createLogger({ name: "backlog-metrics-test", level: "silent" });
// Servers of its own: the counts are of everything INGEST and hg:halted hold.
const servers = useSequencerServers(log, { ownServers: true });

/** The sample lines of one metric in the registry's scrape, without the service label. */
async function samples(registry: ReturnType<typeof createMetricsRegistry>, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => line.replace(/,?service="sequencer"/, "").replace("{}", ""));
}

describe("the sequencer's backlog metrics, read at scrape time", () => {
  it("report an owned partition's unnumbered messages, INGEST's total and the halted streams", async () => {
    const { jsm, js, redis } = servers.ctx;
    // A partition consumer as a sequencer makes it, with nobody pulling: its backlog only grows.
    await jsm.consumers.add(INGEST_STREAM, {
      durable_name: sequencerConsumerName(3),
      filter_subject: ingestPartitionFilter(3),
      ack_policy: AckPolicy.Explicit,
    });
    for (let i = 0; i < 5; i++) await js.publish(ingestSubject(3, "algorithm-77"), "{}");
    for (let i = 0; i < 2; i++) await js.publish(ingestSubject(4, "algorithm-78"), "{}");
    await redis.sadd(haltedStreamsKey, "ideas-a", "ideas-b");

    let owned = [3];
    const registry = createMetricsRegistry("sequencer");
    registerBacklogMetrics(registry, { redis, jsm: () => jsm, owned: () => owned });

    expect(await samples(registry, "heliograph_sequencer_partition_backlog_messages")).toEqual([
      'heliograph_sequencer_partition_backlog_messages{partition="3"} 5',
    ]);
    expect(await samples(registry, "heliograph_sequencer_ingest_messages")).toEqual([
      "heliograph_sequencer_ingest_messages 7",
    ]);
    expect(await samples(registry, "heliograph_sequencer_halted_streams")).toEqual([
      "heliograph_sequencer_halted_streams 2",
    ]);

    // Handed over: another instance reports it now.
    owned = [];
    expect(await samples(registry, "heliograph_sequencer_partition_backlog_messages")).toEqual([]);
    await redis.srem(haltedStreamsKey, "ideas-a", "ideas-b");
    expect(await samples(registry, "heliograph_sequencer_halted_streams")).toEqual([
      "heliograph_sequencer_halted_streams 0",
    ]);
  });
});
