import { UsageError } from "./args.js";
import type { CliIo } from "./cli.js";
import type { SubscriberConfig } from "./config.js";
import { progressOf } from "./progress-bar.js";
import { headOf, subscriberOf } from "./tail.js";

/** A position that is no longer held: replay cannot write what was asked. */
export class EvictedError extends Error {
  override readonly name = "EvictedError";
}

/**
 * `replay <stream> --from N --to M`: events N..M as JSON lines on stdout, read with the SDK's
 * follow (which resumes after failures, so the file has each number once, in order). `--to` past
 * the stream's head when replay starts is cut to the head: replay never waits for future events.
 */
export async function replay(
  command: { stream: string; from: number; to: number },
  config: SubscriberConfig,
  io: CliIo,
): Promise<void> {
  const subscriber = subscriberOf(config, io);
  const head = await headOf(subscriber, command.stream, io);
  if (head < command.from)
    throw new UsageError(
      `${command.stream} has no event ${command.from}: its last event is ${head}${head < 0 ? " (it has none)" : ""}`,
    );
  const to = Math.min(command.to, head);
  if (to < command.to)
    io.stderr(`heliograph: ${command.stream} ends at event ${head}: replaying ${command.from}..${to}\n`);
  const progress = progressOf(to - command.from + 1, io);
  const stop = new AbortController();
  const signal = io.signal ? AbortSignal.any([io.signal, stop.signal]) : stop.signal;
  let written = 0;
  for await (const item of subscriber.follow(command.stream, {
    after: command.from - 1,
    batchSize: 1000,
    signal,
    onError: (err) => io.stderr(`\nheliograph: ${err.message}; retrying\n`),
  })) {
    if (item.kind === "evicted")
      throw new EvictedError(
        `POSITION_EVICTED: events after ${item.after} are no longer held (the earliest is ${item.earliest})`,
      );
    if (item.kind !== "event") continue;
    io.stdout(`${JSON.stringify(item.event)}\n`);
    progress(++written);
    if (item.event.event_number >= to) break;
  }
  stop.abort();
  progress(written, true);
}
