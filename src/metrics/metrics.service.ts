import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { OPERATIONAL_CAUSES } from '../events/event-catalog.js';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type DeliveryOutcome = 'succeeded' | 'retry' | 'failed' | 'skipped';
const OUTCOMES: DeliveryOutcome[] = ['succeeded', 'retry', 'failed', 'skipped'];

/**
 * What became of an operational event: stored (`emitted`), not stored because the write
 * failed (`failed`, logged), or not emitted because a delivery of an operational event set it
 * off (`suppressed`: no event about the delivery of an event about a delivery…).
 */
export type OperationalEventResult = 'emitted' | 'failed' | 'suppressed';
const OPERATIONAL_RESULTS: OperationalEventResult[] = ['emitted', 'failed', 'suppressed'];

/**
 * This instance's Prometheus registry and the counters the hot path bumps. One registry per
 * application (not prom-client's global one), so several apps in one process never mix.
 * Gauges that read the database or other services are added by RuntimeGauges.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly accepted = new Counter({
    name: 'provisioning_events_accepted_total',
    help: 'Events accepted (stored) by this instance, by event ID.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  private readonly deliveries = new Counter({
    name: 'provisioning_deliveries_total',
    help: 'Delivery attempts finished by this instance, by outcome (retry: failed, another attempt is scheduled).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /**
   * Events filtered out since the last scrape, by handler id. The hot path adds to this map
   * (prom-client hashes the labels on every inc, which cost more than the filter itself);
   * the counter takes the sums when it is collected.
   */
  private readonly filteredOutPending = new Map<number, number>();
  private readonly filteredOut = new Counter({
    name: 'provisioning_events_filtered_out_total',
    help: "Events a handler's payload filter kept from it (after: no delivery was planned; before: it was not asked), by handler id.",
    labelNames: ['handler_id'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [handlerId, count] of this.filteredOutPending) this.filteredOut.labels(String(handlerId)).inc(count);
      this.filteredOutPending.clear();
    },
  });
  private readonly duration = new Histogram({
    name: 'provisioning_delivery_duration_seconds',
    help: 'Duration of handler calls made by this instance.',
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly operational = new Counter({
    name: 'provisioning_operational_events_total',
    help: 'Operational events (provisioning.*) set off on this instance, by event ID, cause and result: emitted (stored), failed (could not be stored), suppressed (set off by a delivery of an operational event).',
    labelNames: ['type', 'cause', 'result'] as const,
    registers: [this.registry],
  });

  constructor() {
    for (const outcome of OUTCOMES) this.deliveries.labels(outcome).inc(0);
    // Every series exists from the start, so alerting rules see a 0 rather than nothing.
    for (const [type, causes] of Object.entries(OPERATIONAL_CAUSES)) {
      for (const cause of causes) for (const result of OPERATIONAL_RESULTS) this.operational.labels(type, cause, result).inc(0);
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'provisioning_' });
  }

  countAccepted(eventIds: readonly string[]): void {
    for (const id of eventIds) this.accepted.labels(id).inc();
  }

  /** One event that `handlerId`'s filter did not match (evaluated at ingest, or in the before chain). */
  countFilteredOut(handlerId: number): void {
    this.filteredOutPending.set(handlerId, (this.filteredOutPending.get(handlerId) ?? 0) + 1);
  }

  countDelivery(outcome: DeliveryOutcome, durationMs: number): void {
    this.deliveries.labels(outcome).inc();
    if (outcome !== 'skipped') this.duration.observe(durationMs / 1000);
  }

  countOperational(type: string, cause: string, result: OperationalEventResult): void {
    this.operational.labels(type, cause, result).inc();
  }

  /** The Prometheus text page. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
