import { Module } from '@nestjs/common';
import { DeliveryCounts } from './delivery-counts.js';
import { DeliveryPurge } from './delivery-purge.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryReads } from './delivery-reads.js';
import { DeliveryRequeue } from './delivery-requeue.js';
import { WorkSignal } from './work-signal.js';

/**
 * The durable queue: the owner of the `deliveries` table, whose steps `DeliveryQueue`,
 * `DeliveryRequeue`, `DeliveryReads`, `DeliveryCounts` and `DeliveryPurge` hold, and the
 * in-process `WorkSignal` that says new work was committed. Ingest enqueues, the dispatcher
 * claims and finishes (DeliveryQueue); manual retries requeue (DeliveryRequeue); the event
 * detail and replays read an event's queued deliveries (DeliveryReads); retention purges
 * (DeliveryPurge); the gauges count (DeliveryCounts).
 */
@Module({
  providers: [DeliveryQueue, DeliveryRequeue, DeliveryReads, DeliveryCounts, DeliveryPurge, WorkSignal],
  exports: [DeliveryQueue, DeliveryRequeue, DeliveryReads, DeliveryCounts, DeliveryPurge, WorkSignal],
})
export class QueueModule {}
