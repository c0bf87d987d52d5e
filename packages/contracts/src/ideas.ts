import { z } from "zod";

// The fold lives in a module without zod so the client SDK can bundle it alone.
export { foldIdeas, ideaTransitionViolation, reduceIdea } from "./idea-reducer.js";

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
