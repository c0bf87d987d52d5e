import { createHash, randomUUID } from "node:crypto";
import { SEQUENCED_SUBJECT_PREFIX, SequencedNotice } from "@heliograph/contracts";
import type { NatsConnection } from "@heliograph/platform";
import {
  acquireWebhookLease,
  releaseWebhookLease,
  type StoredWebhookEndpoint,
  webhookDispatchersKey,
} from "@heliograph/store";
import type { KV } from "@nats-io/kv";
import type { Subscription } from "@nats-io/nats-core";
import { EndpointDirectory } from "./endpoint-directory.js";
import { EndpointWorker, type WorkerDeps } from "./endpoint-worker.js";

export interface DispatcherDeps extends Omit<WorkerDeps, "onEnd" | "instanceId"> {
  nc: NatsConnection;
  kv: KV;
}

/**
 * Shares the active endpoints among the live dispatcher instances and runs a worker for each one
 * this instance holds (docs/architecture.md, "Webhook dispatcher"). Every scan (each
 * WEBHOOK_SCAN_MS, and at once when an endpoint changes) it takes the endpoint list from its
 * directory (the control plane's, watched), counts the live instances (a Redis sorted set each
 * refreshes), and takes the leases of free endpoints up to its fair share, preferring the
 * endpoints that hash closest to it, so instances take different ones; beyond its share it lets
 * go. A lease is one holder at a time, so steady state delivers each event once; a killed
 * instance's endpoints are taken over when their leases expire (its event in flight may then be
 * delivered again, with the same webhook-id).
 */
export class Dispatcher {
  readonly instanceId = `wd-${randomUUID()}`;
  private readonly workers = new Map<string, EndpointWorker>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private sub: Subscription | undefined;
  private stopped = false;
  private scans = 0;
  /** An endpoint changed while a scan ran: scan again when it ends. */
  private rescanDue = false;
  readonly directory: EndpointDirectory;
  private counts: { active: number; paused: number } | undefined;

  constructor(private readonly deps: DispatcherDeps) {
    this.directory = new EndpointDirectory(deps.kv, deps.log, () => this.rescan());
  }

  /** Endpoints this instance delivers to now. */
  get held(): string[] {
    return [...this.workers.keys()];
  }

  /**
   * Endpoints by status at the last scan, of every instance (the control plane's list): a paused
   * one waits for an operator. Undefined until a scan has read the list.
   */
  get endpointCounts(): { active: number; paused: number } | undefined {
    return this.counts;
  }

  /** Whether a scan has completed (readiness). */
  get scanned(): boolean {
    return this.scans > 0;
  }

  async start(): Promise<void> {
    // New events wake the workers of their streams at once; the scan interval is the fallback.
    this.sub = this.deps.nc.subscribe(`${SEQUENCED_SUBJECT_PREFIX}.>`, {
      callback: (err, msg) => {
        if (err) return;
        const parsed = SequencedNotice.safeParse(msg.json());
        if (!parsed.success) return;
        const streams = new Set(parsed.data.map(([, streamId]) => streamId));
        for (const worker of this.workers.values()) if (streams.has(worker.streamId)) worker.wake();
      },
    });
    await this.scan();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.runScan(), this.deps.config.WEBHOOK_SCAN_MS);
  }

  private runScan(): void {
    if (this.stopped) return;
    this.scanning = this.scan().finally(() => {
      this.scanning = undefined;
      if (this.rescanDue) {
        this.rescanDue = false;
        this.runScan();
      } else this.schedule();
    });
  }

  /** An endpoint changed: a new one is delivered to, a paused or deleted one stops, now rather than at the next scan. */
  private rescan(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescanDue = true;
      return;
    }
    clearTimeout(this.timer);
    this.runScan();
  }

  private async scan(): Promise<void> {
    const { redis, config, log } = this.deps;
    try {
      const endpoints = await this.directory.endpoints();
      const now = Date.now();
      const liveSince = now - config.WEBHOOK_LEASE_MS;
      await redis
        .multi()
        .zadd(webhookDispatchersKey, now, this.instanceId)
        .zremrangebyscore(webhookDispatchersKey, "-inf", liveSince)
        .exec();
      const live = Math.max(1, await redis.zcard(webhookDispatchersKey));
      const active = endpoints.filter((e) => e.status === "active");
      this.counts = { active: active.length, paused: endpoints.filter((e) => e.status === "paused").length };
      const share = Math.ceil(active.length / live);
      const byId = new Map(active.map((e) => [e.id, e]));
      // Paused or deleted endpoints stop; the rest see their record's changes.
      for (const [id, worker] of this.workers) {
        const endpoint = byId.get(id);
        if (endpoint) worker.update(endpoint);
        else worker.stop();
      }
      // Beyond the fair share (an instance joined): let go of the endpoints least close to this one.
      const mine = [...this.workers.keys()].sort((a, b) => this.closeness(b) - this.closeness(a));
      for (const id of mine.slice(share)) this.workers.get(id)?.stop();
      const candidates = active
        .filter((e) => !this.workers.has(e.id))
        .sort((a, b) => this.closeness(a.id) - this.closeness(b.id));
      for (const endpoint of candidates) {
        if (this.stopped || this.workers.size >= share) break;
        if (await acquireWebhookLease(redis, endpoint.id, this.instanceId, config.WEBHOOK_LEASE_MS)) this.run(endpoint);
      }
      this.scans++;
    } catch (err) {
      log.warn({ err }, "reading the webhook endpoints failed; the next scan tries again");
    }
  }

  /** Smaller: this instance prefers the endpoint (rendezvous hashing of endpoint and instance). */
  private closeness(endpointId: string): number {
    return createHash("sha1").update(`${endpointId}\n${this.instanceId}`).digest().readUInt32BE(0);
  }

  private run(endpoint: StoredWebhookEndpoint): void {
    const worker: EndpointWorker = new EndpointWorker(endpoint, {
      ...this.deps,
      instanceId: this.instanceId,
      log: this.deps.log.child({ endpoint: endpoint.id }),
      onEnd: () => {
        if (this.workers.get(endpoint.id) === worker) this.workers.delete(endpoint.id);
        releaseWebhookLease(this.deps.redis, endpoint.id, this.instanceId).catch(() => {});
      },
    });
    this.workers.set(endpoint.id, worker);
    this.deps.log.info({ endpoint: endpoint.id, stream_id: endpoint.stream_id }, "delivering to webhook endpoint");
  }

  /** Stops scanning and every worker after its delivery in flight, releasing the leases. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.directory.stop();
    this.sub?.unsubscribe();
    await this.scanning;
    const workers = [...this.workers.values()];
    for (const worker of workers) worker.stop();
    await Promise.all(workers.map((w) => w.done));
    await this.deps.redis.zrem(webhookDispatchersKey, this.instanceId).catch(() => {});
  }
}
