/*
 * Stream ids and their names, without zod, so the client SDK can bundle them alone (`stream-id.ts`
 * holds the schema).
 */

/** Safe as a URL path segment and as a NATS subject token. */
export const STREAM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const resourceStreamId = (resourceId: number): string => `resource-${resourceId}`;
export const algorithmStreamId = (algorithmId: number): string => `algorithm-${algorithmId}`;
export const ideasStreamId = (channel: string): string => `ideas-${channel}`;
