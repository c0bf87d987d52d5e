import { z } from "zod";
import { KeyValueTypePairs, ResourceId } from "./resource.js";
import { StreamId } from "./stream-id.js";

const Name = z.string().trim().min(1).max(200);
const EntityId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "id must match ^[a-z0-9][a-z0-9_-]{0,63}$");

export const CreatePublisherRequest = z.strictObject({
  name: Name,
  /** Optional stable id; generated when absent. */
  id: EntityId.optional(),
});
export type CreatePublisherRequest = z.infer<typeof CreatePublisherRequest>;

/**
 * Whether a publisher's key or a subscriber's token works: `revoked` until new credentials are
 * issued (rotate), which makes it `active` again.
 */
export const CredentialStatus = z.enum(["active", "revoked"]);
export type CredentialStatus = z.infer<typeof CredentialStatus>;

export const Publisher = z.object({
  id: z.string(),
  name: z.string(),
  api_key: z.string(),
  status: CredentialStatus,
  created_at: z.string(),
});
export type Publisher = z.infer<typeof Publisher>;

/** Returned once, at creation: the secret is stored hashed and cannot be read back. */
export const PublisherCredentials = Publisher.extend({ api_secret: z.string() });
export type PublisherCredentials = z.infer<typeof PublisherCredentials>;

export const CreateResourceRequest = z.strictObject({
  publisher_id: EntityId,
  title: Name,
  key_value_type_pairs: KeyValueTypePairs,
  /** Integer id as in the resources document; the next free one when absent. */
  id: ResourceId.optional(),
});
export type CreateResourceRequest = z.infer<typeof CreateResourceRequest>;

export const Resource = z.object({
  id: ResourceId,
  publisher_id: z.string(),
  title: z.string(),
  key_value_type_pairs: KeyValueTypePairs,
  stream_id: StreamId,
  created_at: z.string(),
});
export type Resource = z.infer<typeof Resource>;

export const CreateAlgorithmRequest = z.strictObject({
  publisher_id: EntityId,
  name: Name,
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type CreateAlgorithmRequest = z.infer<typeof CreateAlgorithmRequest>;

export const Algorithm = z.object({
  id: z.number().int().positive(),
  publisher_id: z.string(),
  name: z.string(),
  stream_id: StreamId,
  created_at: z.string(),
});
export type Algorithm = z.infer<typeof Algorithm>;

export const CreateSubscriberRequest = z.strictObject({
  name: Name,
  id: EntityId.optional(),
  streams: z.array(StreamId).max(10_000).default([]),
});
export type CreateSubscriberRequest = z.infer<typeof CreateSubscriberRequest>;

export const Subscriber = z.object({
  id: z.string(),
  name: z.string(),
  streams: z.array(StreamId),
  status: CredentialStatus,
  created_at: z.string(),
});
export type Subscriber = z.infer<typeof Subscriber>;

/** Returned once, at creation: the token is stored hashed. */
export const SubscriberCredentials = Subscriber.extend({ token: z.string() });
export type SubscriberCredentials = z.infer<typeof SubscriberCredentials>;

export const SetEntitlementsRequest = z.strictObject({ streams: z.array(StreamId).max(10_000) });
export type SetEntitlementsRequest = z.infer<typeof SetEntitlementsRequest>;

/** An idea channel: a publisher's stream of trade ideas, `ideas-<id>`. */
export const IdeaChannelId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,57}$/, "channel must match ^[a-z0-9][a-z0-9_-]{0,57}$");

export const CreateIdeaChannelRequest = z.strictObject({
  id: IdeaChannelId,
  publisher_id: EntityId,
  title: Name,
});
export type CreateIdeaChannelRequest = z.infer<typeof CreateIdeaChannelRequest>;

export const IdeaChannel = z.object({
  id: z.string(),
  publisher_id: z.string(),
  title: z.string(),
  stream_id: StreamId,
  created_at: z.string(),
});
export type IdeaChannel = z.infer<typeof IdeaChannel>;
