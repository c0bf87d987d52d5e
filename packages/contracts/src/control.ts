import { z } from "zod";
import { StreamId } from "./stream-id.js";
import { StreamStatus } from "./stream-read.js";

/** Sequencer → gateways, per batch: `[ingest_id, stream_id, event_number]` for each numbered publish. */
export const SequencedNotice = z.array(z.tuple([z.string(), StreamId, z.number().int().nonnegative()]));
export type SequencedNotice = z.infer<typeof SequencedNotice>;

/** Operator → sequencer: a halt on this stream was resolved; drain what was held behind it. */
export const ResumeNotice = z.object({ stream_id: StreamId });
export type ResumeNotice = z.infer<typeof ResumeNotice>;

/** Partitions whose leases a sequencer has just released (`LEASE_FREED_SUBJECT`). */
export const LeaseFreedNotice = z.object({ partitions: z.array(z.number().int().nonnegative()).max(4096) });
export type LeaseFreedNotice = z.infer<typeof LeaseFreedNotice>;

/** Where a publish is, looked up by its ingest id. */
export const PublishStatus = z.discriminatedUnion("status", [
  z.object({ status: z.literal("accepted"), ingest_id: z.string(), stream_id: StreamId }),
  z.object({
    status: z.literal("held"),
    ingest_id: z.string(),
    stream_id: StreamId,
    reason: z.string().describe("why the stream is halted; the publish is kept and numbered once it resumes"),
  }),
  z.object({
    status: z.literal("sequenced"),
    ingest_id: z.string(),
    stream_id: StreamId,
    event_number: z.number().int().nonnegative(),
  }),
  z.object({
    status: z.literal("parked"),
    ingest_id: z.string(),
    stream_id: StreamId,
    reason: z.string().describe("why an operator skipped it; it is kept in the stream's parked list"),
  }),
]);
export type PublishStatus = z.infer<typeof PublishStatus>;

/** A halted stream, as operators see it. */
export const StreamHalt = z.object({
  stream_id: StreamId,
  reason: z.string(),
  /** Ingest id of the offending publish: the first one held. */
  ingest_id: z.string(),
  since: z.string(),
  /** The offending publish as it was stored: event type and data. */
  event: z.object({ event_type: z.string(), data: z.record(z.string(), z.unknown()) }),
  /** Publishes held behind the halt, the offending one included, in order. */
  held: z.number().int().nonnegative(),
});
export type StreamHalt = z.infer<typeof StreamHalt>;

export const ResolveHaltRequest = z.strictObject({
  action: z.enum(["skip", "retry"]).describe("skip: park the offending publish and go on; retry: number it again"),
  /** Guards against resolving a halt other than the one the operator looked at. */
  ingest_id: z.string().optional(),
  /** With retry: replacement `data` for the offending event (a fix), same event type. */
  data: z.record(z.string(), z.unknown()).optional(),
});
export type ResolveHaltRequest = z.infer<typeof ResolveHaltRequest>;

/** A publish an operator skipped: kept, never deleted. */
export const ParkedPublish = z.object({
  ingest_id: z.string(),
  stream_id: StreamId,
  reason: z.string(),
  parked_at: z.string(),
  event: z.object({ event_type: z.string(), data: z.record(z.string(), z.unknown()) }),
});
export type ParkedPublish = z.infer<typeof ParkedPublish>;

/** A stream as operators see it (`GET /admin/v1/streams/{id}`). */
export const StreamInfo = z.object({
  stream_id: StreamId,
  /** Last event number; -1 when the stream has none. */
  head: z.number().int(),
  status: StreamStatus,
  /** Publishes kept behind the halt, the offending one included; 0 when live. */
  held: z.number().int().nonnegative(),
});
export type StreamInfo = z.infer<typeof StreamInfo>;

/** Answer of a resolution: what was done to which offending publish. */
export const ResolveHaltAnswer = z.object({
  stream_id: StreamId,
  action: ResolveHaltRequest.shape.action,
  /** The offending publish that was skipped or retried. */
  ingest_id: z.string(),
});
export type ResolveHaltAnswer = z.infer<typeof ResolveHaltAnswer>;
