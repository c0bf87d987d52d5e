import { z } from "zod";
import { StreamId } from "./stream-id.js";

/** `202 Accepted`: JetStream has stored the publish; it will be numbered. */
export const PublishAccepted = z.object({
  status: z.literal("accepted"),
  ingest_id: z.string(),
  stream_id: StreamId,
  /** Correlation id the event's `data.id` carries (signal id, resource id, idea id). */
  id: z.string(),
});
export type PublishAccepted = z.infer<typeof PublishAccepted>;

/** `201 Created`: the publish is numbered (the client asked to wait). */
export const PublishSequenced = z.object({
  status: z.literal("sequenced"),
  ingest_id: z.string(),
  stream_id: StreamId,
  id: z.string(),
  event_number: z.number().int().nonnegative(),
});
export type PublishSequenced = z.infer<typeof PublishSequenced>;

/** Either success answer of a publish, told apart by `status`: what a client reads from a 2xx. */
export const PublishAnswer = z.discriminatedUnion("status", [PublishAccepted, PublishSequenced]);
export type PublishAnswer = z.infer<typeof PublishAnswer>;
