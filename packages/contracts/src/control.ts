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

/** What feeds a stream: a resource, an algorithm, an idea channel, or none known (only its halt). */
export const StreamKind = z.enum(["resource", "algorithm", "ideas", "other"]);
export type StreamKind = z.infer<typeof StreamKind>;

/** A stream in the operators' list (`GET /admin/v1/streams`). */
export const StreamSummary = StreamInfo.extend({
  kind: StreamKind,
  /** The publisher that owns what feeds the stream; absent for `other`. */
  publisher_id: z.string().optional(),
  /** The resource's or channel's title, the algorithm's name. */
  title: z.string().optional(),
  /** INGEST partition of the stream (`partitionOf`). */
  partition: z.number().int().nonnegative(),
  /** First event number the Redis log (the hot window) holds; -1 when it holds none. Older ones come from EVENTS. */
  earliest_hot: z.number().int(),
  /** Publishes operators skipped on the stream (`GET /admin/v1/streams/{id}/parked` lists them). */
  parked: z.number().int().nonnegative(),
});
export type StreamSummary = z.infer<typeof StreamSummary>;

/** One INGEST partition as operators see it (`GET /admin/v1/partitions`). */
export const PartitionInfo = z.object({
  partition: z.number().int().nonnegative(),
  /** The sequencer instance holding the partition's lease; absent when nobody holds it. */
  owner: z.string().optional(),
  /** The lease's epoch (0: never taken). */
  epoch: z.number().int().nonnegative(),
  /** Milliseconds until the lease expires unless renewed; absent when nobody holds it. */
  lease_expires_in_ms: z.number().int().optional(),
  /**
   * INGEST messages of the partition not yet numbered: not yet delivered to its sequencer plus
   * delivered and not yet acknowledged. Absent when the partition's consumer does not exist.
   */
  lag: z.number().int().nonnegative().optional(),
});
export type PartitionInfo = z.infer<typeof PartitionInfo>;

/** JetStream's retention of a stream (INGEST or EVENTS) and what it holds. */
export const JetStreamRetention = z.object({
  stream: z.string(),
  /** Oldest message kept, in seconds; 0 = no limit. */
  max_age_seconds: z.number().nonnegative(),
  /** Bytes kept; -1 = no limit. */
  max_bytes: z.number().int(),
  messages: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  first_seq: z.number().int().nonnegative(),
  last_seq: z.number().int().nonnegative(),
});
export type JetStreamRetention = z.infer<typeof JetStreamRetention>;

/** Answer of `GET /admin/v1/partitions`. */
export const PartitionsOverview = z.object({
  partitions: z.array(PartitionInfo),
  ingest: JetStreamRetention,
  events: JetStreamRetention,
});
export type PartitionsOverview = z.infer<typeof PartitionsOverview>;

/** A sequencer instance that announced itself in the registry (`GET /admin/v1/sequencers`). */
export const SequencerInstance = z.object({
  id: z.string(),
  /** When it last announced itself (Redis time). An instance silent for longer than its live window is forgotten. */
  last_seen: z.string(),
  /** Partitions whose lease it holds. */
  partitions: z.array(z.number().int().nonnegative()),
});
export type SequencerInstance = z.infer<typeof SequencerInstance>;

/** `GET /admin/v1/streams/{stream_id}/tail?last=N`: how many recent events open the tail. */
export const StreamTailQuery = z.strictObject({
  last: z.coerce.number().int().min(0).max(100).default(20).describe("recent events sent first (0-100, default 20)"),
});
export type StreamTailQuery = z.infer<typeof StreamTailQuery>;
