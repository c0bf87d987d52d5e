import type { IdeaEvent, IdeaEventType, IdeaProjection, IdeaState } from "./ideas.js";

/*
 * The rules of an idea's life and the fold that builds its state, without zod: the sequencer's
 * Lua step, the gateways and the client SDK (`@heliograph/client`, which bundles this module)
 * all hold to these.
 */

/** Why an event cannot follow the idea's current state; `undefined` when it can. */
export function ideaTransitionViolation(
  current: { state: IdeaState; timestamp: string } | undefined,
  eventType: IdeaEventType,
  timestamp: string,
): string | undefined {
  if (eventType === "IdeaOpened") {
    if (current) return `idea is already ${current.state === "open" ? "open" : "closed"}; it cannot be opened again`;
    return undefined;
  }
  if (!current) return `${eventType} of an idea that was never opened`;
  if (current.state === "closed") return `${eventType} after the idea was closed`;
  if (Date.parse(timestamp) < Date.parse(current.timestamp)) {
    return `timestamp ${timestamp} is earlier than the idea's last event (${current.timestamp})`;
  }
  return undefined;
}

/**
 * The reducer a client runs over a stream, in order, to build each idea's current state (the
 * document: "to construct the current state of an Idea all of its events must be processed in the
 * provided order"). Events that break the rules throw: a well-formed stream never has them.
 */
export function reduceIdea(current: IdeaProjection | undefined, event: IdeaEvent): IdeaProjection {
  const violation = ideaTransitionViolation(current, event.event_type, event.data.timestamp);
  if (violation) throw new Error(`event ${event.event_number}: ${violation}`);
  return {
    id: event.data.id,
    state: event.event_type === "IdeaClosed" ? "closed" : "open",
    idea: event.data.idea,
    comment: event.data.comment,
    origin: event.data.origin,
    timestamp: event.data.timestamp,
    published_at: event.data.published_at,
    event_number: event.event_number,
    events: (current?.events ?? 0) + 1,
  };
}

/** Folds a stream's idea events into the current state of every idea, keyed by id. */
export function foldIdeas(events: Iterable<IdeaEvent>): Map<string, IdeaProjection> {
  const ideas = new Map<string, IdeaProjection>();
  for (const event of events) ideas.set(event.data.id, reduceIdea(ideas.get(event.data.id), event));
  return ideas;
}
