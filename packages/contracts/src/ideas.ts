import { z } from "zod";

/**
 * Trade ideas, as the trade-ideas document shows them: an ordered sequence of IdeaOpened,
 * IdeaUpdated and IdeaClosed events correlated by the idea's `id`.
 */
const Timestamp = z.iso.datetime({ offset: true });
const Text = (max: number) => z.string().max(max);
const PublicId = z.string().min(1).max(128);

/** A price or an amount: the document sends `"191.65000000000000000"` and `1000000` alike. */
export const Money = z.strictObject({
  value: z.union([z.string().regex(/^-?\d+(\.\d+)?$/, "must be a decimal number"), z.number().finite()]),
  currency: z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as USD"),
});
export type Money = z.infer<typeof Money>;

export const Instrument = z.strictObject({
  public_id: PublicId,
  ric: Text(64).nullable(),
  bloomberg_ticker: Text(64).nullable(),
  figi: z
    .string()
    .regex(/^[A-Z0-9]{12}$/, "must be a 12-character FIGI")
    .nullable(),
});
export type Instrument = z.infer<typeof Instrument>;

export const Recommendation = z.strictObject({
  public_id: PublicId,
  instrument: Instrument,
  direction: z.enum(["LONG", "SHORT"]),
  target_price: Money.nullable(),
  current_investment: Money.nullable(),
});
export type Recommendation = z.infer<typeof Recommendation>;

export const IdeaAuthor = z.strictObject({
  id: PublicId,
  first_name: Text(200),
  last_name: Text(200),
  location: z.strictObject({ city: Text(200), country: Text(3), region: Text(200) }),
  company: z.strictObject({ id: PublicId, name: Text(200) }),
});
export type IdeaAuthor = z.infer<typeof IdeaAuthor>;

export const IdeaState = z.enum(["open", "closed"]);
export type IdeaState = z.infer<typeof IdeaState>;

/** The `idea` object of an event. */
export const Idea = z.strictObject({
  state: IdeaState,
  open_timestamp: Timestamp,
  close_timestamp: Timestamp.nullable(),
  author: IdeaAuthor,
  conviction: Text(64),
  size: Text(64),
  web_link: z.url().max(2048).nullable(),
  time_horizon: Text(64).nullable(),
  stop_loss: z
    .string()
    .regex(/^\d+(\.\d+)?$/, "must be a decimal number")
    .nullable(),
  recommendations: z.array(Recommendation).min(1).max(100),
});
export type Idea = z.infer<typeof Idea>;

export const IdeaId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "id must be 1 to 64 letters, digits, _ or -");

/**
 * Body of the idea calls (open, update, close): the event's `data` as the document shows it,
 * without `published_at`, which Heliograph adds when it numbers the event.
 */
export const IdeaPublishRequest = z.strictObject({
  id: IdeaId,
  timestamp: Timestamp,
  origin: Text(64),
  comment: Text(4000).nullable(),
  idea: Idea,
});
export type IdeaPublishRequest = z.infer<typeof IdeaPublishRequest>;

export const IdeaEventType = z.enum(["IdeaOpened", "IdeaUpdated", "IdeaClosed"]);
export type IdeaEventType = z.infer<typeof IdeaEventType>;

export const IdeaEventData = IdeaPublishRequest.extend({ published_at: z.string() });
export type IdeaEventData = z.infer<typeof IdeaEventData>;

export const IdeaEvent = z.object({
  event_number: z.number().int().nonnegative(),
  event_type: IdeaEventType,
  data: IdeaEventData,
});
export type IdeaEvent = z.infer<typeof IdeaEvent>;

/** Current state of one idea: the fold of its events. */
export const IdeaProjection = z.object({
  id: z.string(),
  state: IdeaState,
  idea: Idea,
  comment: z.string().nullable(),
  origin: z.string(),
  /** Publisher's timestamp of the last event. */
  timestamp: z.string(),
  published_at: z.string(),
  /** Number of the last event folded in. */
  event_number: z.number().int(),
  events: z.number().int().positive(),
});
export type IdeaProjection = z.infer<typeof IdeaProjection>;

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

/** Checks an idea body is consistent with the call it came with (state and close timestamp). */
export function ideaBodyProblems(
  eventType: IdeaEventType,
  body: IdeaPublishRequest,
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const expected = eventType === "IdeaClosed" ? "closed" : "open";
  if (body.idea.state !== expected)
    problems.push({ path: "idea.state", message: `must be "${expected}" for ${eventType}` });
  if (eventType === "IdeaClosed" && body.idea.close_timestamp === null) {
    problems.push({ path: "idea.close_timestamp", message: "is required when closing an idea" });
  }
  if (eventType !== "IdeaClosed" && body.idea.close_timestamp !== null) {
    problems.push({ path: "idea.close_timestamp", message: "must be null while the idea is open" });
  }
  return problems;
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
