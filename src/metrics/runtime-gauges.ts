import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';
import { HandlersService } from '../handlers/handlers.service.js';
import type { CircuitState } from '../handlers/handler.entity.js';
import { MetricsService } from './metrics.service.js';

const QUEUE_STATES = ['due', 'scheduled', 'in_flight', 'failed'] as const;

/** The circuit gauge's values: the further from closed, the higher. */
const CIRCUIT_VALUES: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

interface QueueSnapshot {
  counts: Record<(typeof QUEUE_STATES)[number], number>;
  oldestDueSeconds: number;
}

/**
 * Gauges read at scrape time: the shared queue (one query, all instances), this instance's
 * calls in flight, and its handler cache. A scrape while the database is down leaves the
 * queue gauges at their last values and sets provisioning_database_up to 0.
 */
@Injectable()
export class RuntimeGauges implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly queue: DeliveryQueue,
    private readonly cache: CacheManagerService,
    private readonly dispatcher: DispatcherService,
    private readonly handlers: HandlersService,
  ) {}

  /** One read of the queue's counts per scrape, shared by the gauges that need it (prom-client collects them in parallel). */
  private reading: Promise<QueueSnapshot | null> | null = null;

  private readQueue(): Promise<QueueSnapshot | null> {
    this.reading ??= this.queryQueue(Date.now())
      .catch(() => null)
      .finally(() => setImmediate(() => (this.reading = null)));
    return this.reading;
  }

  private async queryQueue(now: number): Promise<QueueSnapshot> {
    const { due, scheduled, inFlight, failed, oldestDueAt } = await this.queue.counts(now);
    return {
      counts: { due, scheduled, in_flight: inFlight, failed },
      oldestDueSeconds: oldestDueAt === null ? 0 : Math.max(0, now - oldestDueAt) / 1000,
    };
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
      help: 'Deliveries of all instances by state: due (waiting for a worker), scheduled (a retry later), in_flight, failed.',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const snapshot = await queue();
        if (snapshot) for (const state of QUEUE_STATES) this.set({ state }, snapshot.counts[state]);
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
