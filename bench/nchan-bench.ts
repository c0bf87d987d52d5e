/**
 * Nchan as a peer (N2, N3): what a user who needs HTTP long-poll fan-out alone would run, measured
 * with the same load generators, sizes and rate as B2 and B3. Each measure starts its own nginx
 * (`nchan-server.ts`), as R4 starts its own bare server, so the worker's RSS starts from the same
 * place every repetition.
 */
import { waitFor } from "@heliograph/testkit";
import { Child } from "./child.js";
import { nowMs, sleep } from "./clock.js";
import type { FollowersInput, FollowersResult, Received } from "./followers.js";
import { latencies, latencyFigures, latencyLoad } from "./heliograph-bench.js";
import type { LongPollInput, LongPollResult } from "./long-poll-clients.js";
import { type NchanServer, SUBSCRIBE_PATH, startNchan } from "./nchan-server.js";
import type { Sizes } from "./options.js";
import type { PacedInput, PacedResult } from "./paced-publisher.js";
import type { RepResult } from "./raw.js";
import { rawMessage } from "./raw-message.js";

type Log = (message: string) => void;

async function withNchan<T>(sizes: Sizes, log: Log, measure: (nchan: NchanServer) => Promise<T>): Promise<T> {
  const nchan = await startNchan({ connections: sizes.heldPolls, log });
  try {
    return await measure(nchan);
  } finally {
    await nchan.stop();
  }
}

/** Stands for each publish's own id in N2's message; the paced publisher writes the id there. */
const ID_PLACEHOLDER = "@id@";

/**
 * N2: B2's measure against Nchan: one long-poll follower on a channel, a publisher at B2's rate;
 * latency from the publisher reading its answer to the follower having the message.
 */
export function n2(sizes: Sizes, rep: number, log: Log): Promise<RepResult> {
  return withNchan(sizes, log, async (nchan) => {
    const channel = `n2-${rep}`;
    const followers = new Child<FollowersInput, FollowersResult>("followers.ts", {
      url: nchan.url,
      protocol: { kind: "nchan", path: SUBSCRIBE_PATH },
      streams: [channel],
      followersPerStream: 1,
      timeLimitMs: sizes.latencySeconds * 1000 + 120_000,
      reportEveryMs: 200,
    });
    try {
      await waitFor(async () => (await nchan.channel(channel)).subscribers >= 1, {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: "the follower's long poll held by Nchan",
      });
      const publisher = new Child<PacedInput, PacedResult>("paced-publisher.ts", {
        url: nchan.url,
        path: nchan.publishPath(channel),
        // 201 when a subscriber was waiting, 202 when the follower was between two polls.
        acceptStatus: [201, 202],
        headers: {},
        bodies: [rawMessage(ID_PLACEHOLDER)],
        ids: { placeholder: ID_PLACEHOLDER, prefix: `${channel}-` },
        ...latencyLoad(sizes),
      });
      const published = await publisher.result(sizes.latencySeconds * 1000 + 60_000);
      const received = () => followers.progressOf<{ received?: Received[] }>().flatMap((batch) => batch.received ?? []);
      // A message the follower never gets is counted as lost below, not waited for.
      await waitFor(() => received().length >= published.accepted.length, {
        timeoutMs: 10_000,
        intervalMs: 50,
      }).catch(() => {});
      followers.send("stop");
      const followed = await followers.result(30_000);
      const got = received();
      const { values, early, lost } = latencies(published.accepted, got);
      const fromSent = latencies(published.accepted, got, "sent").values;
      const notes = [
        `N2 rep ${rep}: ${published.accepted.length} accepted by Nchan at ${sizes.latencyRate}/s target (${published.skipped} skipped, failures ${JSON.stringify(published.failed)}); ${values.length} delivered, ${lost} not seen by the follower, ${early} seen before the publisher read its answer (counted as 0 ms)${Object.keys(followed.errors).length ? `; follower errors ${JSON.stringify(followed.errors)}` : ""}`,
      ];
      return {
        figures: {
          ...latencyFigures("N2", values, fromSent),
          "N2.rate": (published.accepted.length / published.elapsedMs) * 1000,
          "N2.lost": lost,
        },
        notes,
      };
    } finally {
      followers.kill();
    }
  });
}

/**
 * N3: B3's measure against Nchan: `heldPolls` long polls on one channel, then one publish; the time
 * until the last is answered, and the nginx worker's RSS per held poll.
 */
export function n3(sizes: Sizes, rep: number, log: Log): Promise<RepResult> {
  return withNchan(sizes, log, async (nchan) => {
    const channel = `n3-${rep}`;
    const before = nchan.workerRss();
    const clients = new Child<LongPollInput, LongPollResult>("long-poll-clients.ts", {
      url: `${nchan.url}${nchan.subscribePath(channel)}`,
      headers: {},
      count: sizes.heldPolls,
      wave: 500,
      expect: `"id":"${channel}"`,
      timeLimitMs: 120_000,
    });
    try {
      await clients.next((m) => (m as { sent?: number }).sent !== undefined, 60_000);
      await waitFor(async () => (await nchan.channel(channel)).subscribers >= sizes.heldPolls, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: `${sizes.heldPolls} long polls held by Nchan`,
      });
      // As B3: a moment for the worker's memory to settle before it is read.
      await sleep(500);
      const held = nchan.workerRss();
      const publishedAt = nowMs();
      const res = await fetch(`${nchan.url}${nchan.publishPath(channel)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: rawMessage(channel),
      });
      const answeredAt = nowMs();
      const text = await res.text();
      if (res.status !== 201) throw new Error(`N3: the release publish answered ${res.status}: ${text}`);
      const result = await clients.result(120_000);
      const notes: string[] = [];
      if (result.expected !== sizes.heldPolls)
        notes.push(
          `N3 rep ${rep}: ${result.expected} of ${sizes.heldPolls} long polls held by Nchan got the message (${JSON.stringify(result.otherStatus)}, ${result.errors} errors)`,
        );
      return {
        figures: {
          "N3.time": result.lastAnswerAt - publishedAt,
          "N3.first": result.firstAnswerAt - publishedAt,
          "N3.publishAnswer": answeredAt - publishedAt,
          "N3.rss": (held - before) / sizes.heldPolls / 1024,
        },
        notes,
      };
    } finally {
      clients.kill();
    }
  });
}
