import { Module } from '@nestjs/common';
import { DeliveryQueue } from './delivery-queue.js';
import { WorkSignal } from './work-signal.js';

/**
 * The durable queue: `DeliveryQueue`, the owner of the `deliveries` table and its steps, and
 * the in-process `WorkSignal` that says new work was committed. Ingest enqueues, the dispatcher
 * claims and finishes, manual retries requeue, retention purges, the gauges count.
 */
@Module({
  providers: [DeliveryQueue, WorkSignal],
  exports: [DeliveryQueue, WorkSignal],
})
export class QueueModule {}
