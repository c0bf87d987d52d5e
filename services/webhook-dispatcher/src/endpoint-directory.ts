import type { Logger } from "@heliograph/platform";
import { controlKeys, type StoredWebhookEndpoint } from "@heliograph/store";
import { type KV, type KvEntry, type KvWatchEntry, KvWatchInclude } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";

interface Known {
  revision: number;
  /** Undefined: deleted (kept, so a listing that read it before the delete cannot bring it back). */
  endpoint: StoredWebhookEndpoint | undefined;
}

/**
 * The webhook endpoints of the control bucket, held in memory: read once, then kept current by a
 * watch of their keys. A dispatcher's scan then costs no bucket reads however many endpoints
 * there are, and a change (an endpoint registered, paused, resumed or deleted) is reported at once
 * through `onChange` instead of waiting for the next scan.
 */
export class EndpointDirectory {
  private readonly known = new Map<string, Known>();
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  /** Listed since the current watch started: `endpoints()` is complete. */
  private complete = false;
  private stopped = false;
  /** Times the whole list was read from the bucket (tests: a scan does not read it). */
  listings = 0;

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {}

  /**
   * The endpoints as the bucket holds them. Reads the bucket only when the directory is not
   * complete (first call, or the watch ended); throws when that read fails.
   */
  async endpoints(): Promise<StoredWebhookEndpoint[]> {
    if (!this.complete) await this.load();
    return [...this.known.values()].flatMap((k) => (k.endpoint ? [k.endpoint] : []));
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.stop();
    this.watcher = undefined;
  }

  private async load(): Promise<void> {
    // The watch first, then the list: a change made while listing arrives through the watch, and
    // the revision decides which of the two is newer.
    if (!this.watcher) await this.watch();
    const keys: string[] = [];
    for await (const key of await this.kv.keys(controlKeys.all.webhooks)) keys.push(key);
    const entries = await Promise.all(keys.map((key) => this.kv.get(key)));
    for (const entry of entries) if (entry) this.apply(entry);
    this.listings++;
    this.complete = true;
  }

  private async watch(): Promise<void> {
    const watcher = await this.kv.watch({ key: controlKeys.all.webhooks, include: KvWatchInclude.UpdatesOnly });
    if (this.stopped) {
      watcher.stop();
      return;
    }
    this.watcher = watcher;
    void (async () => {
      try {
        for await (const entry of watcher) {
          this.apply(entry);
          this.onChange();
        }
      } catch (err) {
        this.log.warn({ err }, "watching the webhook endpoints failed");
      }
      // Ended by anything but stop(): changes may have been missed; the next call lists again.
      if (this.watcher === watcher && !this.stopped) {
        this.watcher = undefined;
        this.complete = false;
        this.known.clear();
        this.onChange();
      }
    })();
  }

  private apply(entry: KvEntry): void {
    const known = this.known.get(entry.key);
    if (known && known.revision >= entry.revision) return;
    this.known.set(entry.key, {
      revision: entry.revision,
      endpoint: entry.operation === "PUT" ? entry.json<StoredWebhookEndpoint>() : undefined,
    });
  }
}
