/**
 * Child: raw Redis figures. `lua-step` runs the sequencer's own numbering step (through its exported
 * wrapper, so the ARGV layout is whatever the sequencer uses today) with many steps in flight on one
 * auto-pipelined connection (R2). `xrange` builds a log of `count` entries and reads it back 1,000
 * entries at a time (R5).
 */
import { eventBodyText, type IngestMessage } from "@heliograph/contracts";
import { runSequenceStep } from "@heliograph/sequencer/sequence-step";
import { LOG_EVENT_FIELD, LOG_INGEST_FIELD, logEntryId, streamKeys } from "@heliograph/store";
import { Redis } from "ioredis";
import { childMain } from "./child.js";
import { nowMs } from "./clock.js";

export interface RedisRawInput {
  redisUrl: string;
  mode: "lua-step" | "xrange";
  streamId: string;
  count: number;
  /** lua-step: messages per script call. */
  messagesPerStep?: number;
  /** lua-step: script calls in flight. */
  inFlight?: number;
  timeLimitMs: number;
}

export interface RedisRawResult {
  items: number;
  elapsedMs: number;
  perSecond: number;
  bytesPerEntry: number;
}

const bodyText = (ingestId: string): string => {
  const message: IngestMessage = {
    ingest_id: ingestId,
    stream_id: "bench",
    publisher_id: "bench-publisher",
    event_type: "TradingSignalCreated",
    data: {
      id: ingestId,
      timestamp: "2026-11-21T10:00:00.000Z",
      ticker_symbol: "AAPL",
      order_type: "market",
      portfolio_ratio_investment: 0.01,
      side: "buy",
      time_in_force: "gtc",
    },
    received_at: "2026-11-21T10:00:00.000Z",
  };
  return eventBodyText(message, "2026-11-21T10:00:00.001Z");
};

async function luaStep(redis: Redis, input: RedisRawInput): Promise<RedisRawResult> {
  const k = input.messagesPerStep ?? 1;
  const inFlight = input.inFlight ?? 100;
  const steps = Math.ceil(input.count / k);
  let nextStep = 0;
  let numbered = 0;
  const started = nowMs();
  const deadline = started + input.timeLimitMs;
  const worker = async () => {
    while (nextStep < steps && nowMs() < deadline) {
      const s = nextStep++;
      const inputs = Array.from({ length: k }, (_, j) => {
        const ingestId = `ing_r2_${s * k + j}`;
        return { ingestId, bodyText: bodyText(ingestId), heldEntry: "" };
      });
      // Steps of one stream must run in order in the sequencer; here they may interleave, which
      // costs Redis the same work (each still appends head+1).
      const outcomes = await runSequenceStep(redis, input.streamId, 1, 3600, inputs);
      numbered += outcomes.outcomes.filter((o) => o.kind === "numbered").length;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsedMs = nowMs() - started;
  return { items: numbered, elapsedMs, perSecond: (numbered / elapsedMs) * 1000, bytesPerEntry: bodyText("x").length };
}

async function xrange(redis: Redis, input: RedisRawInput): Promise<RedisRawResult> {
  const keys = streamKeys(input.streamId);
  await redis.del(keys.log);
  // Built with the same entry shape the sequencer writes: explicit ids, fields e and i.
  for (let from = 0; from < input.count; from += 1000) {
    const pipeline = redis.pipeline();
    for (let n = from; n < Math.min(input.count, from + 1000); n++) {
      const ingestId = `ing_r5_${n}`;
      pipeline.xadd(
        keys.log,
        logEntryId(n),
        LOG_EVENT_FIELD,
        `{"event_number":${n},${bodyText(ingestId)}`,
        LOG_INGEST_FIELD,
        ingestId,
      );
    }
    await pipeline.exec();
  }
  let read = 0;
  let after = -1;
  const started = nowMs();
  const deadline = started + input.timeLimitMs;
  while (nowMs() < deadline) {
    const entries = await redis.xrange(keys.log, logEntryId(after + 1), "+", "COUNT", 1000);
    if (entries.length === 0) break;
    read += entries.length;
    after += entries.length;
  }
  const elapsedMs = nowMs() - started;
  await redis.del(keys.log);
  return { items: read, elapsedMs, perSecond: (read / elapsedMs) * 1000, bytesPerEntry: bodyText("x").length + 20 };
}

childMain<RedisRawInput, RedisRawResult>(async (input) => {
  const redis = new Redis(input.redisUrl, { enableAutoPipelining: input.mode === "lua-step", maxRetriesPerRequest: 3 });
  try {
    return input.mode === "lua-step" ? await luaStep(redis, input) : await xrange(redis, input);
  } finally {
    redis.disconnect();
  }
});
