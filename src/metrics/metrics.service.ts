import { Injectable } from '@nestjs/common';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type DeliveryOutcome = 'succeeded' | 'retry' | 'failed' | 'skipped';

/** In-process counters for Prometheus; the text format is written by MetricsController. */
@Injectable()
export class MetricsService {
  eventsAccepted = 0;
  readonly deliveries: Record<DeliveryOutcome, number> = { succeeded: 0, retry: 0, failed: 0, skipped: 0 };
  private readonly bucketCounts = new Array<number>(DURATION_BUCKETS.length).fill(0);
  private durationCount = 0;
  private durationSum = 0;

  countAccepted(n: number): void {
    this.eventsAccepted += n;
  }

  countDelivery(outcome: DeliveryOutcome, durationMs: number): void {
    this.deliveries[outcome] += 1;
    if (outcome === 'skipped') return;
    const seconds = durationMs / 1000;
    this.durationCount += 1;
    this.durationSum += seconds;
    DURATION_BUCKETS.forEach((bound, index) => {
      if (seconds <= bound) this.bucketCounts[index]! += 1;
    });
  }

  /** Prometheus text lines of the counters and the call-duration histogram. */
  counterLines(): string[] {
    const lines = [
      '# HELP provisioning_events_accepted_total Events accepted (stored) by this instance.',
      '# TYPE provisioning_events_accepted_total counter',
      `provisioning_events_accepted_total ${this.eventsAccepted}`,
      '# HELP provisioning_deliveries_total Delivery attempts finished by this instance, by outcome.',
      '# TYPE provisioning_deliveries_total counter',
      ...Object.entries(this.deliveries).map(([outcome, n]) => `provisioning_deliveries_total{outcome="${outcome}"} ${n}`),
      '# HELP provisioning_delivery_duration_seconds Duration of handler calls made by this instance.',
      '# TYPE provisioning_delivery_duration_seconds histogram',
    ];
    DURATION_BUCKETS.forEach((bound, index) => lines.push(`provisioning_delivery_duration_seconds_bucket{le="${bound}"} ${this.bucketCounts[index]}`));
    lines.push(`provisioning_delivery_duration_seconds_bucket{le="+Inf"} ${this.durationCount}`);
    lines.push(`provisioning_delivery_duration_seconds_sum ${this.durationSum}`);
    lines.push(`provisioning_delivery_duration_seconds_count ${this.durationCount}`);
    return lines;
  }
}
