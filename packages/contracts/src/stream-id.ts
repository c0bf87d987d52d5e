import { z } from "zod";
import { STREAM_ID_PATTERN } from "./stream-names.js";

export { algorithmStreamId, ideasStreamId, resourceStreamId, STREAM_ID_PATTERN } from "./stream-names.js";

export const StreamId = z.string().regex(STREAM_ID_PATTERN, "stream id must match ^[a-z0-9][a-z0-9_-]{0,63}$");
export type StreamId = z.infer<typeof StreamId>;
