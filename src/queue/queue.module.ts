import { Module } from '@nestjs/common';
import { DeliveryCounts } from './delivery-counts.js';
import { DeliveryPurge } from './delivery-purge.js';
import { DeliveryQueue } from './delivery-queue.js';
import { WorkSignal } from './work-signal.js';

/**
 * The durable queue: the owner of the `deliveries` table, whose steps `DeliveryQueue`,
 * `DeliveryCounts` and `DeliveryPurge` hold, and the in-process `WorkSignal` that says new work
 * was committed. Ingest enqueues, the dispatcher claims and finishes, manual retries requeue
 * (DeliveryQueue); retention purges (DeliveryPurge); the gauges count (DeliveryCounts).
 */
@Module({
  providers: [DeliveryQueue, DeliveryCounts, DeliveryPurge, WorkSignal],
  exports: [DeliveryQueue, DeliveryCounts, DeliveryPurge, WorkSignal],
})
export class QueueModule {}
