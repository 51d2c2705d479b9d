import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Principal } from '../api-keys/auth.decorators.js';
import { keyActor } from '../audit/audit-actor.js';
import { AuditStore } from '../audit/audit-store.js';
import { DomainError } from '../common/errors.js';
import { HandlersService } from '../handlers/handlers.service.js';
import { DeliveryRequeue } from '../queue/delivery-requeue.js';
import { WorkSignal } from '../queue/work-signal.js';

/** Recovery by hand: queue failed deliveries again, one or a handler's time range; each retry commits with its audit row. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditStore,
    private readonly queue: DeliveryRequeue,
    private readonly handlers: HandlersService,
    private readonly signal: WorkSignal,
  ) {}

  /** One failed (or skipped) delivery gets one more attempt now, logged with trigger manual. */
  async retry(id: number, principal: Principal): Promise<void> {
    const delivery = await this.queue.find(id);
    // A delivery that succeeded has left the queue (its log rows remain): not found here, as one whose event expired.
    if (!delivery) throw DomainError.field('DELIVERY_NOT_FOUND', 'id', `Delivery ${id} is not in the queue: it does not exist, it succeeded, or its event expired`);
    if (delivery.status !== 'failed' && delivery.status !== 'skipped') {
      throw DomainError.field('DELIVERY_NOT_RETRYABLE', 'id', `Delivery ${id} is ${delivery.status}; only failed or skipped deliveries can be retried`);
    }
    await this.requireEnabled(delivery.handlerId);
    await this.dataSource.transaction(async (manager) => {
      if (await this.queue.requeue(id, Date.now(), manager)) {
        await this.audit.record({ actor: keyActor(principal), action: 'delivery.retry', targetId: id, after: { status: 'pending', manual: true } }, manager);
      }
    });
    this.signal.ring();
  }

  /** Every failed delivery of a handler created within [from, to]. */
  async retryRange(handlerId: number, from: number, to: number, principal: Principal): Promise<number> {
    if (from > to) throw DomainError.field('VALIDATION_FAILED', 'from', 'from must not be after to');
    await this.requireEnabled(handlerId);
    const queued = await this.dataSource.transaction(async (manager) => {
      const count = await this.queue.requeueFailed(handlerId, from, to, Date.now(), manager);
      const after = { from: new Date(from).toISOString(), to: new Date(to).toISOString(), queued: count };
      await this.audit.record({ actor: keyActor(principal), action: 'handler.retry_failed', targetId: handlerId, after }, manager);
      return count;
    });
    this.signal.ring();
    return queued;
  }

  private async requireEnabled(handlerId: number): Promise<void> {
    const handler = await this.handlers.get(handlerId);
    if (handler.status !== 'enabled') {
      throw DomainError.field('HANDLER_NOT_ENABLED', 'handler_id', `Handler ${handlerId} is ${handler.status}; enable it before retrying`);
    }
  }
}
