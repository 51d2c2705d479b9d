import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';
import { ClaimedDelivery } from '../queue/delivery.js';
import { WorkSignal } from '../queue/work-signal.js';
import { DeliveryRunner } from './delivery-runner.js';
import { FlowChangeReport, Outcome, OutcomeWriter } from './outcome-writer.js';
import { ClaimRound, FlowControl } from './flow-control.js';
import { claimSpans, DeliverySpans } from './delivery-spans.js';
import { HandlerHoldings } from './handler-holdings.js';

interface Claimed {
  delivery: ClaimedDelivery;
  handler: HandlerEntity | undefined;
}

/**
 * The worker: keeps up to DISPATCH_CONCURRENCY calls in flight. It claims due deliveries when
 * woken (an event was accepted here, a call ended, an outcome was written) or every poll
 * interval (work from other instances, retries coming due), renews its leases while it holds
 * them, and hands back the deliveries of workers whose lease ran out.
 *
 * Claims run ahead of the calls: up to one more round of deliveries waits here, claimed, so a
 * slot that frees starts its next call at once instead of after a claim's round trips.
 *
 * One delivery (`deliver`): the runner makes the call and answers its outcome; the slot frees;
 * the outcome is written (OutcomeWriter, together with the other calls that ended meanwhile),
 * and that write's finish-and-claim-next step (DeliveryQueue) claims for this worker the next
 * delivery of the same event (the next handler in run order), which joins the waiting ones.
 * Other deliveries on the same object become claimable when the write commits.
 *
 * Flow control (src/dispatcher/flow-control.ts): each claim gives every handler its share, no
 * more than twice its cap less what this worker already holds of it (its cap of calls, and as
 * many waiting); a handler's calls in flight never pass its cap; the waiting deliveries of a
 * handler that becomes held (paused, circuit open, Retry-After) go back to the queue unstarted,
 * and the claims of next deliveries leave out the handlers this worker holds enough of.
 */
@Injectable()
export class DispatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Dispatcher');
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private running = false;
  private claiming = false;
  /** A wake came while a claim was in progress: look again when it ends. */
  private wokenWhileClaiming = false;
  /** Claimed, not started yet; oldest first. */
  private ready: Claimed[] = [];
  /** Started and not yet recorded: the call, then the write of its outcome. */
  private readonly started = new Map<number, Promise<void>>();
  /** Deliveries whose call is in progress. */
  private readonly calling = new Set<number>();
  /** Per handler: deliveries held here, calls in progress, its cap, whether it is held now. */
  private readonly holdings: HandlerHoldings;
  /** Held handlers with pending deliveries, as the last claim read them: their deliveries hold the order only among themselves. */
  private released: number[] = [];
  private timers: NodeJS.Timeout[] = [];
  /** A wake when a rate-limited handler may make its next call, and when (flow time). */
  private rateWake: { timer: NodeJS.Timeout; at: number } | null = null;
  private unlisten: (() => void) | null = null;
  private unlistenFlow: (() => void) | null = null;
  /** Consecutive failed claims (the database is down): claiming pauses, longer each time. */
  private claimFailures = 0;
  private pausedUntil = 0;
  /**
   * The last claim found nothing: until then, a call ending starts no claim (each would find
   * nothing again while the handlers with due deliveries are at their caps or wait for the
   * order). New work here, a poll, a handler's room freeing up or a hold ending claim at once.
   */
  private idleUntil = 0;
  /** Aborts the calls still running when the shutdown grace period ends. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly runner: DeliveryRunner,
    private readonly outcomes: OutcomeWriter,
    private readonly signal: WorkSignal,
    private readonly cache: CacheManagerService,
    private readonly config: AppConfig,
    private readonly flow: FlowControl,
  ) {
    // Every call in flight listens to it.
    setMaxListeners(0, this.stopping.signal);
    this.holdings = new HandlerHoldings(flow.defaultCap);
  }

  onApplicationBootstrap(): void {
    if (this.config.dispatch.role === 'api') {
      this.logger.log('INSTANCE_ROLE=api: this instance accepts events but does not deliver them');
      return;
    }
    this.start();
  }

  /** Calls in progress. */
  get activeCount(): number {
    return this.calling.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { pollIntervalMs, leaseMs } = this.config.dispatch;
    this.unlisten = this.signal.listen(() => this.wakeForWork());
    this.unlistenFlow = this.outcomes.onFlowChange((report) => this.flowChanged(report));
    this.timers = [
      setInterval(() => this.wakeForWork(), pollIntervalMs),
      setInterval(() => void this.renewLeases(), Math.max(200, Math.floor(leaseMs / 3))),
      setInterval(() => void this.takeOverExpired(), Math.max(500, Math.floor(leaseMs / 2))),
    ];
    for (const timer of this.timers) timer.unref();
    void this.takeOverExpired();
    this.wake();
    this.logger.log(`Delivering as ${this.owner}, up to ${this.config.dispatch.concurrency} at a time`);
  }

  /** Stop claiming, hand back what was claimed but not started, let calls in flight finish within the grace period, hand back the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unlisten?.();
    this.unlistenFlow?.();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    if (this.rateWake) clearTimeout(this.rateWake.timer);
    this.rateWake = null;
    const deadline = Date.now() + this.config.dispatch.shutdownGraceMs;
    while (this.claiming && Date.now() < deadline) await sleep(5);
    await this.release(this.ready.splice(0).map((entry) => this.drop(entry.delivery)));
    while (this.started.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.started.values()]), sleep(Math.max(0, deadline - Date.now()))]);
    }
    if (this.started.size > 0) {
      const ids = [...this.calling];
      const running = [...this.started.values()];
      this.stopping.abort();
      await this.release(ids);
      // The aborted calls end at once and record nothing; wait so none touches the database after it closes.
      await Promise.race([Promise.allSettled(running), sleep(2000)]);
      this.logger.warn(`Shut down with ${ids.length} deliveries unfinished; handed back to the queue`);
    }
  }

  /**
   * Starts what is ready, then claims more on the next turn of the event loop: the calls that
   * end together (and the outcomes committed as a group) then lead to one claim, not one each.
   */
  wake(): void {
    if (!this.running) return;
    this.startReady();
    if (this.claiming) {
      this.wokenWhileClaiming = true;
      return;
    }
    if (!this.wantsMore() || Date.now() < this.pausedUntil || Date.now() < this.idleUntil) return;
    this.claiming = true;
    void new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.claimMore())
      .finally(() => {
        this.claiming = false;
        if (this.wokenWhileClaiming) {
          this.wokenWhileClaiming = false;
          this.wake();
        }
      });
  }

  /** A wake that claims even right after a claim that found nothing: there may be new work. */
  private wakeForWork(): void {
    this.idleUntil = 0;
    this.wake();
  }

  /** How many more deliveries this worker may hold: one round in progress and one waiting. */
  private spareCapacity(): number {
    return 2 * this.config.dispatch.concurrency - this.started.size - this.ready.length;
  }

  /** Claim when a slot would otherwise wait, or when a worthwhile batch fits. */
  private wantsMore(): boolean {
    const { concurrency } = this.config.dispatch;
    const spare = this.spareCapacity();
    if (spare <= 0 || this.ready.length >= concurrency) return false;
    return this.ready.length === 0 || spare >= Math.max(1, concurrency / 4);
  }

  private async claimMore(): Promise<void> {
    const { concurrency, leaseMs } = this.config.dispatch;
    while (this.running && this.wantsMore()) {
      const limit = Math.min(this.spareCapacity(), concurrency);
      const now = Date.now();
      let round: ClaimRound;
      let handlers: Map<number, HandlerEntity | undefined>;
      try {
        const waiting = [...new Set(this.ready.map((entry) => entry.delivery.handlerId))];
        round = await this.flow.claim(this.owner, limit, { held: this.holdings.held, waiting }, now, now + leaseMs);
      } catch (error) {
        this.backOff(error as Error);
        return;
      }
      if (this.claimFailures > 0) {
        this.logger.log(`Database reachable again after ${this.claimFailures} failed claims: delivering`);
        this.claimFailures = 0;
        this.pausedUntil = 0;
      }
      const { claimed } = round;
      this.idleUntil = claimed.length === 0 ? Date.now() + this.config.dispatch.pollIntervalMs : 0;
      this.learn(round);
      try {
        handlers = claimed.length > 0 ? await this.handlersOf(claimed) : new Map();
      } catch (error) {
        this.logger.error(`Reading the handlers of claimed deliveries failed: ${(error as Error).message}`);
        await this.release(claimed.map((delivery) => delivery.id));
        return;
      }
      claimSpans(claimed, now);
      for (const delivery of claimed) this.keep(delivery, handlers.get(delivery.handlerId));
      await this.releaseHeld();
      this.startReady();
      if (claimed.length === 0 || !round.more) return;
    }
  }

  /** What a claim read of the handlers' flow: their caps, which are held now, which no longer hold others' order. */
  private learn(round: ClaimRound): void {
    for (const [handlerId, cap] of round.caps) this.holdings.learn(handlerId, cap, round.held.has(handlerId));
    this.released = round.released;
    if (round.wakeAt !== null) this.wakeAt(round.wakeAt);
  }

  /** Wakes at `at` (flow time) unless a wake comes sooner: a rate-limited handler's next call is allowed then. */
  private wakeAt(at: number): void {
    const delay = at - this.flow.now();
    if (delay <= 0 || (this.rateWake && this.rateWake.at <= at)) return;
    if (this.rateWake) clearTimeout(this.rateWake.timer);
    const timer = setTimeout(() => {
      this.rateWake = null;
      this.wakeForWork();
    }, Math.ceil(delay));
    timer.unref();
    this.rateWake = { timer, at };
  }

  /** An outcome written here opened or closed a circuit, or a Retry-After holds the handler. */
  private flowChanged({ handlerId, change }: FlowChangeReport): void {
    if (change === 'circuit_closed') {
      this.holdings.setOnHold(handlerId, false);
      this.wakeForWork();
      return;
    }
    this.holdings.setOnHold(handlerId, true);
    void this.releaseHeld();
  }

  /** A claimed delivery joins the waiting ones, counted against its handler's cap. */
  private keep(delivery: ClaimedDelivery, handler: HandlerEntity | undefined): void {
    this.holdings.hold(delivery.handlerId, delivery.handlerRow ? (delivery.handlerRow.maxConcurrency ?? this.flow.defaultCap) : undefined);
    this.ready.push({ delivery, handler });
  }

  /** The delivery is no longer held here (recorded or handed back); answers its id. */
  private drop(delivery: ClaimedDelivery): number {
    this.holdings.release(delivery.handlerId);
    return delivery.id;
  }

  /** Hands back, unstarted, the waiting deliveries of handlers held now (a probe goes ahead: it is what ends the hold). */
  private async releaseHeld(): Promise<void> {
    if (!this.holdings.anyOnHold) return;
    const back: number[] = [];
    this.ready = this.ready.filter((entry) => {
      if (entry.delivery.probe || !this.holdings.isOnHold(entry.delivery.handlerId)) return true;
      back.push(this.drop(entry.delivery));
      return false;
    });
    await this.release(back);
  }

  /**
   * The database is down or refusing: pause claiming for the poll interval, doubling with
   * each failure up to 30 s, then try again by itself. Logged when it starts, not each time.
   */
  private backOff(error: Error): void {
    this.claimFailures += 1;
    const delay = Math.min(this.config.dispatch.pollIntervalMs * 2 ** Math.min(this.claimFailures - 1, 10), 30_000);
    this.pausedUntil = Date.now() + delay;
    if (this.claimFailures === 1) this.logger.warn(`Claim failed, pausing claims and retrying with back-off: ${error.message}`);
    else this.logger.debug(`Claim failed again (${this.claimFailures}), next try in ${delay} ms: ${error.message}`);
    setTimeout(() => this.wake(), delay).unref();
  }

  /**
   * Starts waiting deliveries in the order they were claimed while slots are free, skipping
   * those whose handler has its cap of calls in progress (or is held: they go back).
   */
  private startReady(): void {
    const { concurrency } = this.config.dispatch;
    if (!this.running || this.calling.size >= concurrency || this.ready.length === 0) return;
    const waiting: Claimed[] = [];
    for (const entry of this.ready) {
      const { delivery } = entry;
      const blocked =
        this.calling.size >= concurrency ||
        this.holdings.atCallCap(delivery.handlerId) ||
        (!delivery.probe && this.holdings.isOnHold(delivery.handlerId));
      if (blocked) waiting.push(entry);
      else this.begin(entry);
    }
    this.ready = waiting;
  }

  private begin({ delivery, handler }: Claimed): void {
    this.calling.add(delivery.id);
    this.holdings.startCall(delivery.handlerId);
    const run = this.deliver(delivery, handler)
      .catch((error: Error) => this.logger.error(`Delivery ${delivery.id} failed to run: ${error.stack ?? error.message}`))
      .finally(() => {
        this.started.delete(delivery.id);
        this.endCall(delivery);
        const wasFull = this.holdings.isFull(delivery.handlerId);
        this.drop(delivery);
        if (wasFull) this.wakeForWork();
        else this.wake();
      });
    this.started.set(delivery.id, run);
  }

  /** The call of `delivery` is over (once, whichever comes first): its slot and its handler's count free. */
  private endCall(delivery: ClaimedDelivery): boolean {
    if (!this.calling.delete(delivery.id)) return false;
    this.holdings.endCall(delivery.handlerId);
    return true;
  }

  /**
   * One delivery: the call (its slot frees as soon as the call is over), then the write of its
   * outcome, which claims for this worker the next delivery of the event when this attempt held
   * its object's order. No outcome: the call was stopped by the shutdown and the delivery was
   * handed back.
   */
  private async deliver(delivery: ClaimedDelivery, handler: HandlerEntity | undefined): Promise<void> {
    const spans = DeliverySpans.of(delivery, handler);
    let outcome: Outcome | null;
    try {
      const call = () => this.runner.run(delivery, handler, this.stopping.signal);
      outcome = spans ? await spans.call(call) : await call();
    } finally {
      if (this.endCall(delivery)) this.wake();
    }
    if (!outcome) return;
    const nextFlow = { released: this.released, excluded: this.holdings.fullHandlers() };
    const record = () => this.outcomes.record(this.owner, delivery, outcome, { claimNext: true, nextFlow });
    const recordedFrom = Date.now();
    const next = spans ? await spans.record(record) : await record();
    if (!next) return;
    // The next delivery of the event was claimed in the same transaction as this outcome.
    spans?.nextClaimed(next, recordedFrom);
    await this.takeSuccessor(next);
  }

  /** The next delivery of an event, claimed when the previous one's outcome was written: queued to run, or handed back when stopping. */
  private async takeSuccessor(next: ClaimedDelivery): Promise<void> {
    if (this.running) {
      const handlers = await this.handlersOf([next]).catch((error: Error) => {
        this.logger.error(`Reading the handler of delivery ${next.id} failed: ${error.message}`);
        return undefined;
      });
      if (handlers && this.running && !this.holdings.isOnHold(next.handlerId)) {
        this.keep(next, handlers.get(next.handlerId));
        return;
      }
    }
    await this.release([next.id]);
  }

  /** Hands deliveries this worker claimed but will not run back to the queue (their lease would otherwise have to expire). */
  private async release(ids: number[]): Promise<void> {
    await this.queue.release(this.owner, ids, Date.now()).catch((error: Error) => this.logger.error(`Release failed: ${error.message}`));
  }

  /**
   * The handler of each claimed delivery. Its status and failure streak come from the row the
   * claim read, so a handler disabled a moment ago on another instance is skipped, not called;
   * the rest comes from the handler cache when the row has not changed since it was cached,
   * otherwise from the database.
   */
  private async handlersOf(claimed: ClaimedDelivery[]): Promise<Map<number, HandlerEntity | undefined>> {
    const handlers = new Map<number, HandlerEntity | undefined>();
    const stale: number[] = [];
    for (const { handlerId, handlerRow: row } of claimed) {
      if (handlers.has(handlerId) || stale.includes(handlerId)) continue;
      const cached = this.cache.enabledHandler(handlerId);
      if (!row) handlers.set(handlerId, undefined);
      else if (!cached || cached.updatedAt !== row.updatedAt) stale.push(handlerId);
      else if (cached.status === row.status && cached.failingSince === row.failingSince) handlers.set(handlerId, cached);
      else handlers.set(handlerId, { ...cached, status: row.status as HandlerEntity['status'], failingSince: row.failingSince });
    }
    if (stale.length > 0) {
      const rows = await this.cache.readHandlers(stale);
      for (const row of rows) handlers.set(row.id, row);
    }
    return handlers;
  }

  private async renewLeases(): Promise<void> {
    try {
      const ids = [...this.started.keys(), ...this.ready.map((entry) => entry.delivery.id)];
      await this.queue.renew(this.owner, ids, Date.now() + this.config.dispatch.leaseMs);
    } catch (error) {
      this.logQuietly(`Lease renewal failed: ${(error as Error).message}`);
    }
  }

  private async takeOverExpired(): Promise<void> {
    try {
      if ((await this.queue.takeOverExpired(Date.now())) > 0) this.wakeForWork();
    } catch (error) {
      this.logQuietly(`Lease check failed: ${(error as Error).message}`);
    }
  }

  /** While claims are already failing, the same outage is not reported again on every timer. */
  private logQuietly(message: string): void {
    if (this.claimFailures > 0) this.logger.debug(message);
    else this.logger.error(message);
  }
}
