import { z } from "zod";

/** Safe as a URL path segment and as a NATS subject token. */
export const STREAM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const StreamId = z.string().regex(STREAM_ID_PATTERN, "stream id must match ^[a-z0-9][a-z0-9_-]{0,63}$");
export type StreamId = z.infer<typeof StreamId>;

export const resourceStreamId = (resourceId: number): StreamId => `resource-${resourceId}`;
export const algorithmStreamId = (algorithmId: number): StreamId => `algorithm-${algorithmId}`;
export const ideasStreamId = (channel: string): StreamId => `ideas-${channel}`;
