import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Gauge } from 'prom-client';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { DeliveryCounts, QueuePosition, QueueState } from '../queue/delivery-counts.js';
import { HandlersService } from '../handlers/handlers.service.js';
import type { CircuitState } from '../handlers/handler.entity.js';
import { MetricsService } from './metrics.service.js';

const QUEUE_STATES: readonly QueueState[] = ['due', 'scheduled', 'in_flight', 'failed'];

/** The circuit gauge's values: the further from closed, the higher. */
const CIRCUIT_VALUES: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

interface QueueSnapshot {
  counts: Record<QueueState, number>;
  /** 0: counted at this scrape; else the age of the walk the figure comes from (NaN before the first one ended). */
  ages: Record<QueueState, number>;
  oldestDueSeconds: number;
}

/** The last exact count of a state that had more deliveries than a scrape counts. */
interface Walked {
  value: number;
  startedAt: number;
  endedAt: number;
}

/**
 * Gauges read at scrape time: the shared queue (one query, all instances), this instance's
 * calls in flight, and its handler cache. A scrape while the database is down leaves the
 * queue gauges at their last values and sets provisioning_database_up to 0.
 *
 * A scrape costs the same however deep the queue is: it counts each state up to
 * `queueCountLimits.exactUpTo` deliveries (exact below that). A state with more is counted in
 * the background by a walk over its index range, a slice at a time (other work goes between
 * two slices), at most one walk at a time; the gauge shows that walk's figure, and
 * provisioning_queue_depth_age_seconds how old it is. A state is walked again once the previous
 * walk ended at least `minIntervalMs` ago and ten times its own duration (so walks take at most
 * a tenth of the time).
 */
@Injectable()
export class RuntimeGauges implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly metrics: MetricsService,
    private readonly queueDepth: DeliveryCounts,
    private readonly cache: CacheManagerService,
    private readonly dispatcher: DispatcherService,
    private readonly handlers: HandlersService,
  ) {}

  /** Up to how many deliveries a scrape counts per state; how many index entries a walk's slice reads; how often a state is walked at most. */
  queueCountLimits = { exactUpTo: 1000, sliceSize: 10_000, minIntervalMs: 30_000 };

  private readonly walked = new Map<QueueState, Walked>();
  private walking: Promise<void> | null = null;
  private stopped = false;

  /** One read of the queue's counts per scrape, shared by the gauges that need it (prom-client collects them in parallel). */
  private reading: Promise<QueueSnapshot | null> | null = null;

  private readQueue(): Promise<QueueSnapshot | null> {
    this.reading ??= this.queryQueue(Date.now())
      .catch(() => null)
      .finally(() => setImmediate(() => (this.reading = null)));
    return this.reading;
  }

  private async queryQueue(now: number): Promise<QueueSnapshot> {
    const { exactUpTo } = this.queueCountLimits;
    const { due, scheduled, inFlight, failed, oldestDueAt } = await this.queueDepth.counts(now, exactUpTo);
    const capped = { due, scheduled, in_flight: inFlight, failed };
    const counts = { ...capped };
    const ages = { due: 0, scheduled: 0, in_flight: 0, failed: 0 };
    const deep: QueueState[] = [];
    for (const state of QUEUE_STATES) {
      if (capped[state] <= exactUpTo) continue;
      deep.push(state);
      const walked = this.walked.get(state);
      // More than exactUpTo now, whatever an older walk found.
      counts[state] = Math.max(walked?.value ?? 0, exactUpTo + 1);
      ages[state] = walked ? Math.max(0, now - walked.startedAt) / 1000 : Number.NaN;
    }
    if (deep.length > 0) this.walking ??= this.walk(deep).finally(() => (this.walking = null));
    return { counts, ages, oldestDueSeconds: oldestDueAt === null ? 0 : Math.max(0, now - oldestDueAt) / 1000 };
  }

  /** Exact counts of the deep states that are due for a walk, one after another, a slice at a time. */
  private async walk(states: readonly QueueState[]): Promise<void> {
    const { sliceSize, minIntervalMs } = this.queueCountLimits;
    for (const state of states) {
      const last = this.walked.get(state);
      if (last && Date.now() - last.endedAt < Math.max(minIntervalMs, 10 * (last.endedAt - last.startedAt))) continue;
      const startedAt = Date.now();
      let value = 0;
      try {
        for (let position: QueuePosition | null = null; ; ) {
          if (this.stopped) return;
          const slice = await this.queueDepth.countSlice(state, startedAt, position, sliceSize);
          value += slice.counted;
          if (slice.next === null) break;
          position = slice.next;
          await nextTurn();
        }
      } catch {
        return; // The database is unreachable: provisioning_database_up says so; the next scrape tries again.
      }
      this.walked.set(state, { value, startedAt, endedAt: Date.now() });
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  onModuleInit(): void {
    const registers = [this.metrics.registry];
    const queue = () => this.readQueue();
    new Gauge({
      name: 'provisioning_database_up',
      help: '1 when this scrape could read the database.',
      registers,
      async collect() {
        this.set((await queue()) === null ? 0 : 1);
      },
    });
    new Gauge({
      name: 'provisioning_queue_depth',
      help:
        'Deliveries of all instances by state: due (waiting for a worker), scheduled (a retry later), in_flight, failed (out of attempts, kept until retention). ' +
        'Exact up to 1,000 per state at each scrape; above that, the last background count (see provisioning_queue_depth_age_seconds).',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const snapshot = await queue();
        if (snapshot) for (const state of QUEUE_STATES) this.set({ state }, snapshot.counts[state]);
      },
    });
    new Gauge({
      name: 'provisioning_queue_depth_age_seconds',
      help: 'How old each provisioning_queue_depth figure is: 0 when counted at this scrape, else the age of the background count it comes from (NaN until the first one ends).',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const snapshot = await queue();
        if (snapshot) for (const state of QUEUE_STATES) this.set({ state }, snapshot.ages[state]);
      },
    });
    new Gauge({
      name: 'provisioning_queue_oldest_due_age_seconds',
      help: 'How long the longest-waiting due delivery has been due (0 when none is due).',
      registers,
      async collect() {
        const snapshot = await queue();
        if (snapshot) this.set(snapshot.oldestDueSeconds);
      },
    });
    const dispatcher = this.dispatcher;
    new Gauge({
      name: 'provisioning_deliveries_in_flight',
      help: 'Calls this instance is making now.',
      registers,
      collect() {
        this.set(dispatcher.activeCount);
      },
    });
    const handlers = this.handlers;
    new Gauge({
      name: 'provisioning_handler_circuit_state',
      help: "Each handler's circuit breaker, shared by all instances: 0 closed, 1 half-open (one probe call out), 2 open (deliveries wait for the cool-down).",
      labelNames: ['handler_id', 'handler'] as const,
      registers,
      async collect() {
        const states = await handlers.circuitStates().catch(() => null);
        if (!states) return;
        this.reset();
        for (const { id, name, circuitState } of states) this.set({ handler_id: String(id), handler: name }, CIRCUIT_VALUES[circuitState] ?? 0);
      },
    });
    const cache = this.cache;
    new Gauge({
      name: 'provisioning_handler_cache_age_seconds',
      help: "Time since this instance's handler cache was last brought up to date (full refresh or change feed).",
      registers,
      collect() {
        const status = cache.status();
        const at = Math.max(status.refreshedAt ?? 0, status.syncedAt ?? 0);
        this.set(at === 0 ? 0 : (Date.now() - at) / 1000);
      },
    });
    new Gauge({
      name: 'provisioning_handler_cache_handlers',
      help: "Enabled handlers in this instance's cache.",
      registers,
      collect() {
        this.set(cache.status().handlerCount);
      },
    });
    new Gauge({
      name: 'provisioning_handler_cache_version',
      help: 'Highest handler change applied by this instance.',
      registers,
      collect() {
        this.set(cache.status().version);
      },
    });
  }
}
