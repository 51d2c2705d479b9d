import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { ClaimedDelivery, DeliveryQueue } from './delivery-queue.js';
import { DeliveryRunner } from './delivery-runner.js';
import { WorkSignal } from './work-signal.js';

/**
 * The worker: keeps up to DISPATCH_CONCURRENCY deliveries in flight. It claims due deliveries
 * when woken (an event was accepted here, a delivery finished) or every poll interval (work
 * from other instances, retries coming due), renews its leases while calls run, and hands
 * back the deliveries of workers whose lease ran out.
 */
@Injectable()
export class DispatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Dispatcher');
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private running = false;
  private pumping = false;
  private again = false;
  private readonly inFlight = new Map<number, Promise<void>>();
  private timers: NodeJS.Timeout[] = [];
  private unlisten: (() => void) | null = null;
  /** Consecutive failed claims (the database is down): claiming pauses, longer each time. */
  private claimFailures = 0;
  private pausedUntil = 0;
  /** Aborts the calls still running when the shutdown grace period ends. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly dataSource: DataSource,
    private readonly queue: DeliveryQueue,
    private readonly runner: DeliveryRunner,
    private readonly signal: WorkSignal,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.dispatch.role === 'api') {
      this.logger.log('INSTANCE_ROLE=api: this instance accepts events but does not deliver them');
      return;
    }
    this.start();
  }

  get activeCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { pollIntervalMs, leaseMs } = this.config.dispatch;
    this.unlisten = this.signal.listen(() => this.wake());
    this.timers = [
      setInterval(() => this.wake(), pollIntervalMs),
      setInterval(() => void this.renewLeases(), Math.max(200, Math.floor(leaseMs / 3))),
      setInterval(() => void this.takeOverExpired(), Math.max(500, Math.floor(leaseMs / 2))),
    ];
    for (const timer of this.timers) timer.unref();
    void this.takeOverExpired();
    this.wake();
    this.logger.log(`Delivering as ${this.owner}, up to ${this.config.dispatch.concurrency} at a time`);
  }

  /** Stop claiming, let in-flight calls finish within the grace period, hand back the rest. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unlisten?.();
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const deadline = Date.now() + this.config.dispatch.shutdownGraceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.inFlight.values()]), sleep(Math.max(0, deadline - Date.now()))]);
    }
    if (this.inFlight.size > 0) {
      const ids = [...this.inFlight.keys()];
      const running = [...this.inFlight.values()];
      this.stopping.abort();
      await this.queue.release(this.owner, ids, Date.now()).catch((error: Error) => this.logger.error(`Release failed: ${error.message}`));
      // The aborted calls end at once and record nothing; wait so none touches the database after it closes.
      await Promise.race([Promise.allSettled(running), sleep(2000)]);
      this.logger.warn(`Shut down with ${ids.length} deliveries unfinished; handed back to the queue`);
    }
  }

  /**
   * Claims on the next turn of the event loop, not at once: the calls that finish together
   * (their outcomes are committed as a group) then free their slots for one claim, not one each.
   */
  wake(): void {
    if (!this.running || Date.now() < this.pausedUntil) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.pump()).finally(() => {
      this.pumping = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    const { concurrency, leaseMs } = this.config.dispatch;
    while (this.running && this.inFlight.size < concurrency) {
      const now = Date.now();
      let claimed: ClaimedDelivery[];
      let handlers: Map<number, HandlerEntity>;
      try {
        claimed = await this.queue.claim(this.owner, concurrency - this.inFlight.size, now, now + leaseMs);
        // Claimed rows whose handlers cannot be read stay leased; the lease hands them back.
        handlers = claimed.length > 0 ? await this.loadHandlers(claimed) : new Map();
      } catch (error) {
        this.backOff(error as Error);
        return;
      }
      if (this.claimFailures > 0) {
        this.logger.log(`Database reachable again after ${this.claimFailures} failed claims: delivering`);
        this.claimFailures = 0;
        this.pausedUntil = 0;
      }
      if (claimed.length === 0) return;
      for (const delivery of claimed) {
        const run = this.runner
          .run(this.owner, delivery, handlers.get(delivery.handlerId), this.stopping.signal)
          .catch((error: Error) => this.logger.error(`Delivery ${delivery.id} failed to run: ${error.stack ?? error.message}`))
          .finally(() => {
            this.inFlight.delete(delivery.id);
            this.wake();
          });
        this.inFlight.set(delivery.id, run);
      }
    }
  }

  /**
   * The database is down or refusing: pause claiming for the poll interval, doubling with
   * each failure up to 30 s, then try again by itself. Logged when it starts, not each time.
   */
  private backOff(error: Error): void {
    this.claimFailures += 1;
    const delay = Math.min(this.config.dispatch.pollIntervalMs * 2 ** Math.min(this.claimFailures - 1, 10), 30_000);
    this.pausedUntil = Date.now() + delay;
    if (this.claimFailures === 1) this.logger.warn(`Claim failed, pausing deliveries and retrying with back-off: ${error.message}`);
    else this.logger.debug(`Claim failed again (${this.claimFailures}), next try in ${delay} ms: ${error.message}`);
    setTimeout(() => this.wake(), delay).unref();
  }

  /** Fresh handler rows: a handler disabled a moment ago on another instance is skipped, not called. */
  private async loadHandlers(claimed: ClaimedDelivery[]): Promise<Map<number, HandlerEntity>> {
    const ids = [...new Set(claimed.map((delivery) => delivery.handlerId))];
    const rows = await this.dataSource.getRepository(HandlerEntity).find({ where: { id: In(ids) } });
    return new Map(rows.map((row) => [row.id, row]));
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      await this.queue.renew(this.owner, [...this.inFlight.keys()], Date.now() + this.config.dispatch.leaseMs);
    } catch (error) {
      this.logQuietly(`Lease renewal failed: ${(error as Error).message}`);
    }
  }

  private async takeOverExpired(): Promise<void> {
    try {
      if ((await this.queue.releaseExpired(Date.now())) > 0) this.wake();
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
