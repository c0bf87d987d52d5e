import { type KV, type KvEntry, type KvWatchEntry, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator, Status } from "@nats-io/nats-core";

/** What the cache logs through (a pino logger fits). Keys are never logged: an API key is one. */
export interface ControlCacheLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ControlCacheOptions {
  /**
   * Longest an entry is served without reading the bucket again. Changes arrive through the watch
   * within milliseconds; this only bounds how stale an entry can get if the watch stalls without
   * the connection noticing (its consumer lost on the server, until the client recreates it).
   */
  maxAgeMs: number;
  /** Entries held at most; the oldest goes first (default 100,000). */
  maxEntries?: number;
  log?: ControlCacheLog;
  /**
   * Told of every change the watch delivers (after its key was evicted), and with no key when the
   * cache was dropped because changes may have been missed (a reconnect): what was decided on the
   * old values, such as a held long poll's authorisation, can then be decided again.
   */
  onChange?: (key: string | undefined) => void;
}

/** Decodes a stored value. One key is always decoded by the same function (its kind's). */
export type ControlDecoder<T> = (entry: KvEntry) => T;

interface Flight {
  /** Set when the key changed (or the cache was dropped) while the read was in flight. */
  stale: boolean;
  promise: Promise<unknown>;
}

/** Recently evicted keys remembered with their eviction count, so unrelated changes do not stop caching. */
const MAX_TRACKED_CHANGES = 10_000;
const DEFAULT_MAX_ENTRIES = 100_000;
const REWATCH_MAX_DELAY_MS = 2_000;

/**
 * An in-process cache of control-plane bucket entries, kept right by a KV watch: every change
 * to a key (a put, a delete) evicts that key on every instance as soon as the watch delivers it,
 * so a rotated secret or changed entitlements take effect everywhere within a second.
 *
 * - Only values that exist are cached: a lookup of an unknown key or token always reads the
 *   bucket, so unauthenticated traffic cannot fill the cache. Entries are bounded by `maxEntries`.
 * - A read in flight when its key changes is answered but not stored (it may hold the old value).
 * - Nothing is stored while no watch runs. When the watch ends, or the NATS connection is re-made
 *   (changes made meanwhile were not seen), the whole cache is dropped and a new watch started;
 *   until it runs, reads go to the bucket. During a disconnection cached entries keep serving
 *   (changes made meanwhile reach this process only after it reconnects, and the drop then
 *   catches up); an uncached lookup fails then, as the bucket cannot be read.
 * - Successful authentications are remembered by a digest of the credentials presented
 *   (`recallAuthentication`), dropped when a key they were read from changes: a request with the
 *   right secret is answered from memory, every other one reads the bucket the same way whether
 *   its key exists or not (see `ControlPlane.authenticatePublisher`).
 */
export class ControlCache {
  private readonly entries = new Map<string, { value: unknown; at: number }>();
  /** Credential digest → who it authenticated, and the keys that decided it. */
  private readonly authenticated = new Map<string, { id: string; at: number; keys: readonly string[] }>();
  /** Key → the digests it decided, so a change of the key forgets them. */
  private readonly authenticatedBy = new Map<string, Set<string>>();
  /** Counts evictions: an authentication that saw one of its keys change meanwhile is not remembered. */
  private changes = 0;
  /** The count at each recently evicted key's last eviction (bounded; see `changedSince`). */
  private readonly lastChanged = new Map<string, number>();
  /** Evictions older than this are no longer in `lastChanged`: a mark before it knows nothing. */
  private forgottenUpTo = 0;
  private readonly inFlight = new Map<string, Flight>();
  private readonly maxEntries: number;
  private watcher: QueuedIterator<KvWatchEntry> | undefined;
  private statusWatch: QueuedIterator<Status> | undefined;
  private watching = false;
  private closed = false;
  private rewatching: Promise<void> | undefined;
  /** A reconnect seen while a rewatch was under way: its watch may predate it, so another follows. */
  private rewatchAgain: string | undefined;
  /** How many times the cache was dropped and its watch rebuilt (tests, logs). */
  rewatches = 0;

  constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly options: ControlCacheOptions,
  ) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  /** Starts the watch (and follows the connection); resolves once changes are being delivered. */
  async start(): Promise<this> {
    await this.startWatch();
    this.statusWatch = this.nc.status() as QueuedIterator<Status>;
    void (async () => {
      for await (const status of this.statusWatch as QueuedIterator<Status>) {
        if (status.type === "reconnect") this.rewatch("NATS reconnected");
      }
    })().catch(() => {});
    return this;
  }

  /** Stops the watch; later reads go to the bucket. */
  async close(): Promise<void> {
    this.closed = true;
    this.watching = false;
    this.statusWatch?.stop();
    this.watcher?.stop();
    this.drop();
    // A rewatch under way ends at its next step (it checks `closed`), not waited for here.
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size + this.authenticated.size;
  }

  /** Where the eviction count stands now; pass it to `rememberAuthentication`. */
  changeMark(): number {
    return this.changes;
  }

  /** Whom these credentials (their digest) authenticated, while nothing that decided it changed. */
  recallAuthentication(digest: string): string | undefined {
    const hit = this.authenticated.get(digest);
    if (!hit) return undefined;
    if (performance.now() - hit.at < this.options.maxAgeMs) return hit.id;
    this.forgetAuthentication(digest);
    return undefined;
  }

  /**
   * Remembers a successful authentication decided by `keys`, unless a key changed since `mark`
   * (`changeMark()` before the reads) or no watch runs: it may have been decided on old values.
   */
  rememberAuthentication(digest: string, id: string, keys: readonly string[], mark: number): void {
    if (!this.watching || this.changedSince(keys, mark)) return;
    this.forgetAuthentication(digest);
    if (this.authenticated.size >= this.maxEntries) {
      const oldest = this.authenticated.keys().next();
      if (!oldest.done) this.forgetAuthentication(oldest.value);
    }
    this.authenticated.set(digest, { id, at: performance.now(), keys });
    for (const key of keys) {
      let digests = this.authenticatedBy.get(key);
      if (!digests) {
        digests = new Set();
        this.authenticatedBy.set(key, digests);
      }
      digests.add(digest);
    }
  }

  /** Whether any of `keys` was evicted after `mark` (or that can no longer be told: then true). */
  private changedSince(keys: readonly string[], mark: number): boolean {
    if (mark < this.forgottenUpTo) return true;
    return keys.some((key) => (this.lastChanged.get(key) ?? 0) > mark);
  }

  private forgetAuthentication(digest: string): void {
    const hit = this.authenticated.get(digest);
    if (!hit) return;
    this.authenticated.delete(digest);
    for (const key of hit.keys) {
      const digests = this.authenticatedBy.get(key);
      digests?.delete(digest);
      if (digests?.size === 0) this.authenticatedBy.delete(key);
    }
  }

  /** True while a watch delivers changes (and reads are cached). */
  get live(): boolean {
    return this.watching;
  }

  /** The decoded value of `key`, or null when it does not exist (never cached). */
  async read<T>(key: string, decode: ControlDecoder<T>): Promise<T | null> {
    const hit = this.entries.get(key);
    if (hit && performance.now() - hit.at < this.options.maxAgeMs) return hit.value as T;
    const joined = this.inFlight.get(key);
    if (joined) return (await joined.promise) as T | null;
    const flight: Flight = { stale: !this.watching, promise: Promise.resolve(null) };
    flight.promise = (async () => {
      try {
        const entry = await this.kv.get(key);
        const value = entry && entry.operation === "PUT" ? decode(entry) : null;
        if (value !== null && !flight.stale) this.store(key, value);
        return value;
      } finally {
        if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, flight);
    return (await flight.promise) as T | null;
  }

  /** Forgets `key` (its change was seen, here or through the watch). */
  evict(key: string): void {
    this.changes++;
    this.lastChanged.delete(key);
    this.lastChanged.set(key, this.changes);
    if (this.lastChanged.size > MAX_TRACKED_CHANGES) {
      const oldest = this.lastChanged.entries().next();
      if (!oldest.done) {
        this.lastChanged.delete(oldest.value[0]);
        this.forgottenUpTo = oldest.value[1];
      }
    }
    this.entries.delete(key);
    const digests = this.authenticatedBy.get(key);
    if (digests) for (const digest of [...digests]) this.forgetAuthentication(digest);
    const flight = this.inFlight.get(key);
    if (flight) {
      flight.stale = true;
      this.inFlight.delete(key);
    }
  }

  private told(key: string | undefined): void {
    try {
      this.options.onChange?.(key);
    } catch (err) {
      this.options.log?.warn({ err, key }, "a control-plane change listener failed");
    }
  }

  private store(key: string, value: unknown): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, at: performance.now() });
  }

  private drop(): void {
    this.changes++;
    this.lastChanged.clear();
    this.forgottenUpTo = this.changes;
    this.entries.clear();
    this.authenticated.clear();
    this.authenticatedBy.clear();
    for (const flight of this.inFlight.values()) flight.stale = true;
    this.inFlight.clear();
  }

  private async startWatch(): Promise<void> {
    // Updates only: the cache starts empty, so what was written before needs no replay. Headers
    // only: a change's key is all an eviction needs.
    const watcher = await this.kv.watch({ include: KvWatchInclude.UpdatesOnly, headers_only: true });
    if (this.closed) {
      watcher.stop();
      return;
    }
    this.watcher = watcher;
    this.watching = true;
    void (async () => {
      try {
        for await (const change of watcher) {
          this.evict(change.key);
          this.told(change.key);
        }
      } catch (err) {
        this.options.log?.warn({ err }, "control-plane watch failed");
      }
      // Ended by anything but close() or a rewatch: rebuilt, the cache dropped meanwhile.
      if (this.watcher === watcher && !this.closed) this.rewatch("control-plane watch ended");
    })();
  }

  /** Drops the cache and starts a new watch, retrying until one runs or the cache is closed. */
  private rewatch(why: string): void {
    if (this.closed) return;
    if (this.rewatching) {
      this.rewatchAgain = why;
      return;
    }
    this.watching = false;
    const old = this.watcher;
    this.watcher = undefined;
    old?.stop();
    // A connection closed for good (the process is stopping) cannot be watched again, nor can
    // the bucket be read: what is held keeps answering until it ages out, nothing new is stored.
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    this.drop();
    this.told(undefined);
    this.rewatches++;
    this.options.log?.info({ why }, "control-plane cache dropped; watching again");
    this.rewatching = (async () => {
      for (let attempt = 0; !this.closed && !this.nc.isClosed() && !this.nc.isDraining(); attempt++) {
        try {
          await this.startWatch();
          return;
        } catch (err) {
          this.options.log?.warn({ err, attempt }, "control-plane watch could not start; retrying");
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, REWATCH_MAX_DELAY_MS)));
        }
      }
    })().finally(() => {
      this.rewatching = undefined;
      const again = this.rewatchAgain;
      this.rewatchAgain = undefined;
      if (again) this.rewatch(again);
    });
  }
}

/** Starts a control cache on the bucket (see {@link ControlCache}); resolves once it watches. */
export function startControlCache(kv: KV, nc: NatsConnection, options: ControlCacheOptions): Promise<ControlCache> {
  return new ControlCache(kv, nc, options).start();
}
