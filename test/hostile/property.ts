import fc from "fast-check";
import { answerProblem, showRequest } from "./answer-checks.js";
import { PROPERTY_RUNS } from "./hostile-stack.js";
import { type RawRequest, type RawResponse, rawRequest } from "./raw-http.js";

/**
 * Sends every generated request over a bare socket and requires promise 5 of each answer (see
 * {@link answerProblem}); `onAnswer` sees every answer and throws when it is not the expected one
 * (see answer-checks.ts). The failure names the request fast-check shrank it to.
 */
export async function assertEveryAnswer(
  port: number,
  requests: fc.Arbitrary<RawRequest>,
  onAnswer: (req: RawRequest, res: RawResponse) => void | Promise<void> = () => {},
  runs = PROPERTY_RUNS,
): Promise<void> {
  const outcome = await fc.check(
    fc.asyncProperty(requests, async (req) => {
      let res: RawResponse;
      try {
        res = await rawRequest(port, req, { timeoutMs: 15_000 });
      } catch (err) {
        throw new Error(`no answer (${(err as Error).message})\nrequest: ${showRequest(req)}`);
      }
      const problem = answerProblem(res, req.method);
      if (problem) {
        throw new Error(`${problem}\nrequest: ${showRequest(req)}\nanswer: ${res.status} ${res.body.slice(0, 800)}`);
      }
      try {
        await onAnswer(req, res);
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\nrequest: ${showRequest(req)}\nanswer: ${res.status} ${res.body.slice(0, 800)}`,
        );
      }
    }),
    { numRuns: runs },
  );
  if (outcome.failed) {
    // fast-check's own report prints the whole counterexample (bodies of 200 kB); ours is cut short.
    const cause =
      outcome.errorInstance instanceof Error ? outcome.errorInstance.message : String(outcome.errorInstance);
    throw new Error(
      `after ${outcome.numRuns} runs, shrunk ${outcome.numShrinks} times (seed ${outcome.seed}, path "${outcome.counterexamplePath}"):\n${cause}`,
    );
  }
}

/** Builds a request from its parts, as generated. */
export const request = (method: string, path: string, headers: [string, string][][], body?: string): RawRequest => ({
  method,
  path,
  headers: headers.flat(),
  body,
});
