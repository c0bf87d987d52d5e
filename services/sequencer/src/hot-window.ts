import type { StreamId } from "@heliograph/contracts";
import type { SequencerConfig } from "./config.js";

export type HotWindowSettings = Pick<
  SequencerConfig,
  "HOT_WINDOW_EVENTS" | "HOT_WINDOW_SIGNAL_EVENTS" | "HOT_WINDOW_IDEA_EVENTS"
>;

/** The defaults, for callers that build options without the environment (tests, the benchmark). */
export const DEFAULT_HOT_WINDOWS: HotWindowSettings = {
  HOT_WINDOW_EVENTS: 10_000,
  HOT_WINDOW_SIGNAL_EVENTS: 1_000,
  HOT_WINDOW_IDEA_EVENTS: 100_000,
};

/**
 * Events a stream's Redis log keeps (docs/architecture.md, "The hot window"), by the stream's kind:
 * trading signals (`algorithm-<id>`) are read as they arrive, so few are kept; idea channels
 * (`ideas-<channel>`) are replayed from the start by new readers more often, so more are; resources
 * and anything else take HOT_WINDOW_EVENTS. Idea states are never trimmed, whatever the window.
 */
export function hotWindowOf(streamId: StreamId, settings: Partial<HotWindowSettings>): number {
  if (streamId.startsWith("algorithm-"))
    return settings.HOT_WINDOW_SIGNAL_EVENTS ?? DEFAULT_HOT_WINDOWS.HOT_WINDOW_SIGNAL_EVENTS;
  if (streamId.startsWith("ideas-"))
    return settings.HOT_WINDOW_IDEA_EVENTS ?? DEFAULT_HOT_WINDOWS.HOT_WINDOW_IDEA_EVENTS;
  return settings.HOT_WINDOW_EVENTS ?? DEFAULT_HOT_WINDOWS.HOT_WINDOW_EVENTS;
}
