import {
  ErrorBody,
  EVENT_STREAM_CONTENT_TYPE,
  EVENTS_STREAM,
  eventNumberOfText,
  eventsSubject,
  HeliographError,
  PROXY_BUFFERING_HEADER,
  SSE_HEARTBEAT,
  STREAM_ID_PATTERN,
  StreamTailQuery,
  sseEventText,
  sseHaltedText,
  sseRetryText,
} from "@heliograph/contracts";
import { fromBackingService, type Logger, type Redis, responseDrained } from "@heliograph/platform";
import { readLastEvents, readStreamState } from "@heliograph/store";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";

/**
 * The live tails open on this process: capped (each holds a JetStream consumer; promise 8) and
 * ended when the admin listener closes, so shutdown is not held up by an open console tab.
 */
export class StreamTails {
  private readonly open = new Set<AbortController>();
  private closing = false;

  constructor(readonly max: number) {}

  get size(): number {
    return this.open.size;
  }

  acquire(): AbortController {
    if (this.closing) throw new HeliographError("SHUTTING_DOWN", { retryAfter: 1 });
    if (this.open.size >= this.max) {
      throw new HeliographError("SERVICE_UNAVAILABLE", {
        message: "Too many live tails are open on this process; close one or retry shortly",
        retryAfter: 1,
      });
    }
    const slot = new AbortController();
    this.open.add(slot);
    return slot;
  }

  release(slot: AbortController): void {
    this.open.delete(slot);
    slot.abort();
  }

  closeAll(): void {
    this.closing = true;
    for (const slot of [...this.open]) this.release(slot);
  }
}

export interface StreamTailDeps {
  redis: Redis;
  nc: NatsConnection;
  tails: StreamTails;
  log: Logger;
  /** A `: heartbeat` comment goes out when nothing was sent for this long (default 15 s). */
  heartbeatMs?: number;
}

/** How long a tail's reader may leave what was written unread before the tail is dropped. */
const DRAIN_TIMEOUT_MS = 10_000;

const StreamParams = z.object({ stream_id: z.string().max(128).describe("^[a-z0-9][a-z0-9_-]{0,63}$") });

/**
 * `GET /admin/v1/streams/{stream_id}/tail`: the console's live tail, as Server-Sent Events read
 * from EVENTS with an ordered consumer (not from the stream gateway: the console calls the admin
 * API only). Registered inside the admin routes, behind their bearer check.
 */
export function streamTailRoute(deps: StreamTailDeps): FastifyPluginAsyncZod {
  const { redis, nc, tails, log } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  return async (scope) => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    scope.addHook("preClose", async () => tails.closeAll());

    scope.get(
      "/streams/:stream_id/tail",
      {
        schema: {
          description:
            "A live tail of the stream as Server-Sent Events (text/event-stream): the last `last` events (default " +
            "20), then every event as it is numbered (id: its number, event: its type, data: its JSON); an " +
            '`event: halted` message (data {"head":N}) first when the stream is halted. For watching, not for ' +
            "consuming: subscribers read the stream gateway. At most ADMIN_TAIL_LIMIT open per process (503).",
          tags: ["admin: streams"],
          params: StreamParams,
          querystring: StreamTailQuery,
          response: {
            200: z.string().describe("text/event-stream"),
            400: ErrorBody.describe("STREAM_ID_INVALID or VALIDATION_FAILED (?last)"),
            401: ErrorBody.describe("AUTH_MISSING or AUTH_INVALID"),
            503: ErrorBody.describe("SERVICE_UNAVAILABLE (too many tails, or NATS/Redis down) or SHUTTING_DOWN"),
          },
        },
      },
      async (req, reply) => {
        const streamId = req.params.stream_id;
        if (!STREAM_ID_PATTERN.test(streamId)) {
          throw new HeliographError("STREAM_ID_INVALID", {
            details: [{ path: "params.stream_id", message: "invalid" }],
          });
        }
        const slot = tails.acquire();
        const raw = reply.raw;
        raw.once("close", () => tails.release(slot));

        let opening: Awaited<ReturnType<typeof open>>;
        const open = async () => {
          // EVENTS' last sequence is read before Redis: whatever EVENTS stores after it comes from the
          // consumer, and whatever it held up to it was in Redis first (the sequencer writes Redis,
          // then EVENTS), so the two overlap (numbers sent twice are dropped) and leave no gap.
          const lastSeq = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
          const [recent, state] = await Promise.all([
            req.query.last === 0 ? [] : readLastEvents(redis, streamId, req.query.last),
            readStreamState(redis, streamId),
          ]);
          const consumer = await js.consumers.get(EVENTS_STREAM, {
            filter_subjects: eventsSubject(streamId),
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: lastSeq + 1,
          });
          // Short heartbeats: a pull request nats-server drops unanswered would otherwise stall the
          // tail for two default heartbeats (30 s) before the client pulls again.
          return { recent, state, messages: await consumer.consume({ idle_heartbeat: 1_000 }) };
        };
        try {
          opening = await fromBackingService(open, (err) =>
            log.warn({ err, stream_id: streamId }, "opening a live tail failed"),
          );
        } catch (err) {
          tails.release(slot);
          throw err;
        }
        const { recent, state, messages } = opening;
        slot.signal.addEventListener("abort", () => void messages.close().catch(() => {}), { once: true });
        if (slot.signal.aborted) {
          await messages.close().catch(() => {});
          return reply;
        }

        reply.hijack();
        raw.writeHead(200, {
          "content-type": EVENT_STREAM_CONTENT_TYPE,
          "cache-control": "no-store",
          [PROXY_BUFFERING_HEADER]: "no",
          connection: "close",
        });
        raw.write(sseRetryText());
        let last = -1;
        const send = (text: string) => {
          const n = eventNumberOfText(text);
          const frame = sseEventText(text);
          if (n === undefined || frame === undefined || n <= last) return;
          raw.write(frame);
          last = n;
        };
        for (const text of recent) send(text);
        if (state.status === "halted") raw.write(sseHaltedText(state.head));
        const heartbeat = setInterval(() => raw.write(SSE_HEARTBEAT), heartbeatMs);
        try {
          for await (const msg of messages) {
            send(msg.string());
            // A console that stops reading is dropped rather than buffered without bound.
            if (raw.writableNeedDrain && !(await responseDrained(raw, slot.signal, DRAIN_TIMEOUT_MS))) {
              if (!slot.signal.aborted)
                log.info({ stream_id: streamId }, "live tail dropped: its reader is not reading");
              break;
            }
          }
        } catch (err) {
          log.warn({ err, stream_id: streamId }, "live tail ended by a failed read");
        } finally {
          clearInterval(heartbeat);
          tails.release(slot);
          if (!raw.destroyed) raw.end();
        }
        return reply;
      },
    );
  };
}
