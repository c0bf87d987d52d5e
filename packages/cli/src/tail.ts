import { createSubscriber, type Subscriber } from "@heliograph/client";
import type { CliIo } from "./cli.js";
import type { SubscriberConfig } from "./config.js";
import { eventLine } from "./render.js";

/** A subscriber of the SDK configured for the CLI. */
export function subscriberOf(config: SubscriberConfig, io: CliIo): Subscriber {
  return createSubscriber({ baseUrl: config.url, token: config.token, ...(io.fetch && { fetch: io.fetch }) });
}

/** The last event number of a stream (-1 when it has none): the most recent ten end with it. */
export async function headOf(subscriber: Subscriber, stream: string, io: CliIo): Promise<number> {
  const latest = await subscriber.latest(stream, io.signal ? { signal: io.signal } : {});
  return latest.at(-1)?.event_number ?? -1;
}

/**
 * `tail <stream>`: follows until `io.signal` aborts (Ctrl-C), printing each event as it comes.
 * Halts, resumptions, evictions and retried failures go to stderr, so stdout stays events only.
 * An eviction is reported and tail goes on from the earliest event held, as `tail -f` would.
 */
export async function tail(
  command: { stream: string; from?: number },
  config: SubscriberConfig,
  json: boolean,
  io: CliIo,
): Promise<void> {
  const subscriber = subscriberOf(config, io);
  const after = command.from === undefined ? await headOf(subscriber, command.stream, io) : command.from - 1;
  const follow = subscriber.follow(command.stream, {
    after,
    longPollSeconds: 30,
    ...(io.signal && { signal: io.signal }),
    onError: (err) => io.stderr(`heliograph: ${err.message}; retrying from the last event printed\n`),
  });
  for await (const item of follow) {
    if (item.kind === "event") io.stdout(`${json ? JSON.stringify(item.event) : eventLine(item.event)}\n`);
    else if (item.kind === "status")
      io.stderr(
        item.status === "halted"
          ? `heliograph: ${command.stream} is halted at event ${item.head}: nothing later is numbered until an operator resolves it (heliograph halt show ${command.stream})\n`
          : `heliograph: ${command.stream} is live again\n`,
      );
    else {
      io.stderr(
        `heliograph: 410 POSITION_EVICTED: events after ${item.after} are no longer held; going on from event ${item.earliest}\n`,
      );
      item.continueFromEarliest();
    }
  }
}
