import { describe, expect, it } from "vitest";
import { DOCUMENT_IDEA_CLOSED, DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED } from "./idea-fixtures.js";
import {
  foldIdeas,
  type IdeaEvent,
  IdeaEvent as IdeaEventSchema,
  IdeaPublishRequest,
  ideaBodyProblems,
  ideaTransitionViolation,
} from "./ideas.js";

const examples = [DOCUMENT_IDEA_OPENED, DOCUMENT_IDEA_UPDATED, DOCUMENT_IDEA_CLOSED];

/** The document's examples as one idea's history: same id, increasing timestamps. */
function asOneIdea(): IdeaEvent[] {
  return examples.map((example, i) => {
    const event = IdeaEventSchema.parse(structuredClone(example));
    const ts = `2018-06-04T14:3${i}:00.000Z`;
    return { ...event, event_number: i, data: { ...event.data, id: "idea-1", timestamp: ts } };
  });
}

describe("idea schemas", () => {
  it("parse the document's three examples exactly as printed", () => {
    for (const example of examples) {
      expect(IdeaEventSchema.parse(structuredClone(example))).toEqual(example);
    }
  });

  it("a publish body is the event's data without published_at", () => {
    for (const example of examples) {
      const { published_at: _p, ...body } = structuredClone(example).data;
      expect(IdeaPublishRequest.parse(body)).toEqual(body);
      expect(ideaBodyProblems(example.event_type, IdeaPublishRequest.parse(body))).toEqual([]);
    }
  });

  it("names inconsistent state and close timestamps", () => {
    const { published_at: _p, ...body } = structuredClone(DOCUMENT_IDEA_OPENED).data;
    const parsed = IdeaPublishRequest.parse(body);
    expect(ideaBodyProblems("IdeaClosed", parsed).map((p) => p.path)).toEqual(["idea.state", "idea.close_timestamp"]);
  });

  it("refuses an unknown instrument field or a bad currency, naming the field", () => {
    const { published_at: _p, ...body } = structuredClone(DOCUMENT_IDEA_OPENED).data;
    const bad = structuredClone(body) as unknown as {
      idea: { recommendations: [{ target_price: { currency: string } }] };
    };
    bad.idea.recommendations[0].target_price.currency = "kroner";
    const result = IdeaPublishRequest.safeParse(bad);
    expect(result.error?.issues[0]?.path.join(".")).toBe("idea.recommendations.0.target_price.currency");
  });
});

describe("idea lifecycle rules", () => {
  const open = { state: "open" as const, timestamp: "2018-06-04T14:34:43.393Z" };
  const closed = { state: "closed" as const, timestamp: "2018-06-04T14:34:43.393Z" };
  it.each([
    [undefined, "IdeaOpened", "2018-06-04T14:34:43.393Z", false],
    [open, "IdeaOpened", "2018-06-04T14:35:00.000Z", true],
    [undefined, "IdeaUpdated", "2018-06-04T14:35:00.000Z", true],
    [undefined, "IdeaClosed", "2018-06-04T14:35:00.000Z", true],
    [open, "IdeaUpdated", "2018-06-04T14:35:00.000Z", false],
    [open, "IdeaUpdated", "2018-06-04T14:34:43.393Z", false],
    [open, "IdeaUpdated", "2018-06-04T14:00:00.000Z", true],
    [open, "IdeaClosed", "2018-06-04T14:35:00.000Z", false],
    [closed, "IdeaUpdated", "2018-06-04T14:35:00.000Z", true],
    [closed, "IdeaClosed", "2018-06-04T14:35:00.000Z", true],
    [closed, "IdeaOpened", "2018-06-04T14:35:00.000Z", true],
  ] as const)("%o then %s at %s: violation %s", (current, type, ts, violates) => {
    expect(ideaTransitionViolation(current, type, ts) !== undefined).toBe(violates);
  });

  it("folds a history into the current state", () => {
    const ideas = foldIdeas(asOneIdea());
    const idea = ideas.get("idea-1");
    expect(idea?.state).toBe("closed");
    expect(idea?.events).toBe(3);
    expect(idea?.event_number).toBe(2);
    expect(idea?.idea).toEqual(DOCUMENT_IDEA_CLOSED.data.idea);
  });

  it("refuses to fold a history that breaks the rules", () => {
    const [opened, , closed] = asOneIdea();
    expect(() => foldIdeas([opened!, closed!, { ...opened!, event_number: 3 }])).toThrow(/event 3/);
  });
});
