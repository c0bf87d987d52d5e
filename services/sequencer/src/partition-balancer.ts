import type { Logger } from "@heliograph/platform";
import type { PartitionLeases } from "./lease.js";
import type { SequencerMetrics } from "./metrics.js";
import type { PartitionWorker } from "./partition-worker.js";

/**
 * Lease ticks (renewals, heartbeat, takeovers) per lease TTL: an owner gets several renewal
 * attempts within a TTL (a hung one takes Redis' 1.5 s command timeout), and a standby that misses
 * the moment a lease lapses looks again within a quarter TTL (see schedule for how it does not).
 */
const TICKS_PER_TTL = 4;

/**
 * An instance not seen for one lease TTL no longer counts toward the fair share. Each tick renews
 * the leases and then records the instance, so an instance silent that long has lost every lease
 * it held: it is forgotten just after its leases lapse, and the survivors' shares grow then, not
 * later (a longer window would leave a crashed instance's partitions without an owner meanwhile).
 */
const LIVE_WINDOW_TTLS = 1;

/**
 * A tick aimed at the moment a silent instance is forgotten runs this much later, for the clocks
 * of this process and Redis to agree that it is past (its leases lapsed a little earlier still).
 */
const AFTER_FORGET_MS = 30;

export interface BalancerDeps {
  leases: PartitionLeases;
  log: Logger;
  metrics: SequencerMetrics;
  partitions: number;
  leaseTtlMs: number;
  /** A worker for a partition just acquired at `epoch`, not started yet. */
  createWorker(partition: number, epoch: number): PartitionWorker;
  /** Tells the other instances these leases are free now (best effort: they would see it at their next tick). */
  announceFreed(partitions: number[]): void;
}

function shuffled(count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Holds this instance's share of the partitions. Every TTL/4 a tick registers the instance as
 * live, renews each lease, and then takes free partitions up to the fair share (the partition
 * count over the live instances, rounded up) or hands one over when it holds more. A tick also
 * runs at once when another instance announces freed leases (`tickSoon`), and after each
 * handover, so a graceful stop or a rebalance does not wait for the timer.
 *
 * `workers` are the partitions owned and numbering. A partition leaves them when its lease is lost
 * (retired: the worker stops at once) or when it is handed over (`handingOver`: the worker finishes
 * its batch while the lease is still renewed). Either way it is `retiring` until its worker is done
 * and its lease released, and is not taken again meanwhile.
 */
export class PartitionBalancer {
  private readonly workers = new Map<number, PartitionWorker>();
  private readonly handingOver = new Map<number, PartitionWorker>();
  private readonly retiring = new Map<number, Promise<void>>();
  private readonly lastRenewed = new Map<number, number>();
  /** Live instances, this one included, as of the last heartbeat. */
  private liveInstances = 1;
  /** When (Date.now) the longest-silent other instance drops out of the count, as of the last heartbeat. */
  private nextForgetAt: number | undefined;
  /** Out of the live set, stopping: ticks only renew the leases of the workers finishing. */
  private leaving = false;
  /** Partitions whose workers finish their last batch in a graceful stop; renewed until released. */
  private readonly closing = new Map<number, PartitionWorker>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private tickRunning = false;
  /** A tick was asked for while one ran: run another as soon as it ends. */
  private tickWanted = false;

  constructor(private readonly deps: BalancerDeps) {}

  /** Takes partitions up to the fair share; resolves after that first attempt, then keeps balancing. */
  async start(): Promise<void> {
    this.runTick();
    await this.ticking;
  }

  /** Ticks now (or right after the tick under way): leases may have come free. */
  tickSoon(): void {
    if (this.stopped) return;
    this.tickWanted = true;
    if (this.tickRunning) return;
    clearTimeout(this.timer);
    this.runTick();
  }

  /**
   * Out of the live set, so the others' shares grow before these leases come free; from now on
   * ticks only renew the leases still held, so a slow last batch does not let them lapse (a lapse
   * would make the others wait for their tick instead of the release notice).
   */
  async leave(): Promise<void> {
    this.leaving = true;
    // A tick under way may still register this instance: deregister after it.
    await this.ticking;
    await this.deps.leases
      .deregister()
      .catch((err) => this.deps.log.warn({ err }, "could not leave the live instances"));
  }

  /**
   * Stops every worker gracefully (in-flight batches finish) and waits for those already winding
   * down: the partitions that were owned, whose leases are still held.
   */
  async stopWorkers(): Promise<number[]> {
    const owned = [...this.workers];
    this.workers.clear();
    for (const [partition, worker] of owned) this.closing.set(partition, worker);
    this.setOwnedGauge();
    await Promise.all(owned.map(([, worker]) => worker.stop()));
    await Promise.all([...this.retiring.values()]);
    return owned.map(([partition]) => partition);
  }

  /** Releases the leases and announces the ones that were still ours; answers those. */
  async release(partitions: number[]): Promise<number[]> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    this.closing.clear();
    const released = await Promise.all(
      partitions.map((partition) =>
        this.deps.leases.release(partition).catch((err) => {
          this.deps.log.warn({ err, partition }, "could not release a lease");
          return false;
        }),
      ),
    );
    const freed = partitions.filter((_, i) => released[i]);
    if (freed.length > 0) this.deps.announceFreed(freed);
    return freed;
  }

  worker(partition: number): PartitionWorker | undefined {
    return this.workers.get(partition);
  }

  get workerCount(): number {
    return this.workers.size;
  }

  owned(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  /** Every worker of an owned partition re-reads its INGEST messages in order. */
  resyncAll(reason: string): void {
    for (const worker of this.workers.values()) worker.requestResync(reason);
  }

  private runTick(): void {
    this.tickRunning = true;
    this.tickWanted = false;
    this.ticking = this.tick()
      .catch((err) => this.deps.log.error({ err }, "lease tick failed"))
      .finally(() => {
        this.tickRunning = false;
        if (this.stopped) return;
        if (this.tickWanted) this.runTick();
        else this.schedule();
      });
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    let delay = Math.max(50, Math.floor(this.deps.leaseTtlMs / TICKS_PER_TTL));
    // A crashed instance is forgotten, and its leases lapse, between two ticks: look right then, so
    // a takeover follows the lapse at once instead of up to a tick later.
    if (this.nextForgetAt !== undefined) delay = Math.min(delay, Math.max(0, this.nextForgetAt - Date.now()));
    this.timer = setTimeout(() => this.runTick(), delay);
  }

  private async tick(): Promise<void> {
    // Renewals before the heartbeat: an instance's leases then always lapse before it is forgotten,
    // so a survivor that looks right after (see schedule) finds them free.
    await this.renewAll();
    if (this.leaving || this.stopped) return;
    await this.heartbeat();
    if (this.leaving || this.stopped) return;
    const share = Math.ceil(this.deps.partitions / Math.max(1, this.liveInstances));
    if (this.workers.size > share) {
      // Another instance joined. One partition per tick, and only once the last one is handed
      // over, so shares settle without flapping; the highest-numbered goes first, so every
      // instance agrees on which move.
      if (this.handingOver.size > 0) return;
      const partition = Math.max(...this.workers.keys());
      this.handOver(partition, this.workers.get(partition)!, share);
      return;
    }
    if (this.workers.size < share) await this.acquireUpTo(share - this.workers.size);
  }

  private async heartbeat(): Promise<void> {
    const { leases, leaseTtlMs, log } = this.deps;
    try {
      const { live, nextForgetMs } = await leases.heartbeat(Math.round(LIVE_WINDOW_TTLS * leaseTtlMs));
      this.liveInstances = Math.max(1, live);
      this.nextForgetAt = nextForgetMs === undefined ? undefined : Date.now() + nextForgetMs + AFTER_FORGET_MS;
    } catch (err) {
      // The last count stands; the next tick tries again.
      log.warn({ err }, "could not register this instance as live");
    }
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.workers, ...this.handingOver, ...this.closing].map(async ([partition, worker]) => {
        try {
          if (await this.deps.leases.renew(partition)) this.lastRenewed.set(partition, Date.now());
          else this.lose(partition, worker, "lease taken over");
        } catch (err) {
          const since = Date.now() - (this.lastRenewed.get(partition) ?? 0);
          if (since >= this.deps.leaseTtlMs) this.lose(partition, worker, "lease could not be renewed in time");
          else this.deps.log.warn({ err, partition }, "lease renewal failed; retrying");
        }
      }),
    );
  }

  /** Tries free partitions, a round of `room` at a time, until `room` are taken or none is left. */
  private async acquireUpTo(room: number): Promise<void> {
    const { leases, log, partitions } = this.deps;
    const candidates = shuffled(partitions).filter((p) => !this.workers.has(p) && !this.retiring.has(p));
    for (let next = 0; room > 0 && next < candidates.length && !this.stopped && !this.leaving; ) {
      const round = candidates.slice(next, next + room);
      next += round.length;
      const taken = await Promise.all(
        round.map(async (partition) => {
          try {
            const epoch = await leases.acquire(partition);
            if (epoch === undefined) return false;
            if (this.stopped || this.leaving) {
              await leases.release(partition);
              return false;
            }
            this.startWorker(partition, epoch);
            return true;
          } catch (err) {
            log.warn({ err, partition }, "could not acquire a partition lease");
            return false;
          }
        }),
      );
      room -= taken.filter(Boolean).length;
    }
  }

  private startWorker(partition: number, epoch: number): void {
    const worker = this.deps.createWorker(partition, epoch);
    this.workers.set(partition, worker);
    this.lastRenewed.set(partition, Date.now());
    this.setOwnedGauge();
    this.deps.log.info({ partition, epoch }, "partition acquired");
    void worker.start().then(() => {
      // The worker ended by itself (its epoch was superseded): give the partition up.
      if (worker.dead) this.retire(partition, worker, worker.dead);
    });
  }

  private lose(partition: number, worker: PartitionWorker, reason: string): void {
    if (this.handingOver.get(partition) === worker || this.closing.get(partition) === worker) void worker.abort(reason);
    else this.retire(partition, worker, reason);
  }

  /** The lease is lost: the worker stops at once, then the lease is released if it is still ours. */
  private retire(partition: number, worker: PartitionWorker, reason: string): void {
    if (this.workers.get(partition) !== worker) return;
    this.workers.delete(partition);
    this.lastRenewed.delete(partition);
    this.setOwnedGauge();
    const done = worker
      .abort(reason)
      .then(() => this.deps.leases.release(partition))
      .then((released) => {
        if (released) this.deps.announceFreed([partition]);
      })
      .catch((err) => this.deps.log.warn({ err, partition }, "could not release a lost lease"))
      .then(() => {
        this.retiring.delete(partition);
      });
    this.retiring.set(partition, done);
  }

  /**
   * Gives a partition up for another instance to take: the worker stops after its in-flight batch
   * (numbered, published, acked) while the lease is still renewed, then the lease is released. The
   * taker's higher epoch fences anything that still came late.
   */
  private handOver(partition: number, worker: PartitionWorker, share: number): void {
    if (this.workers.get(partition) !== worker) return;
    this.workers.delete(partition);
    this.handingOver.set(partition, worker);
    this.setOwnedGauge();
    this.deps.log.info(
      { partition, share, liveInstances: this.liveInstances },
      "releasing a partition to balance the instances",
    );
    const done = worker
      .stop()
      .then(() => this.deps.leases.release(partition))
      .then((released) => {
        if (released) this.deps.announceFreed([partition]);
      })
      .catch((err) => this.deps.log.warn({ err, partition }, "could not release a partition lease"))
      .then(() => {
        this.handingOver.delete(partition);
        this.lastRenewed.delete(partition);
        this.retiring.delete(partition);
        // The next handover, if the share still asks for one, need not wait for the timer.
        this.tickSoon();
      });
    this.retiring.set(partition, done);
  }

  private setOwnedGauge(): void {
    this.deps.metrics.owned.set(this.workers.size);
  }
}
