import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors.js';
import { HandlersService } from '../handlers/handlers.service.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';
import { WorkSignal } from '../queue/work-signal.js';

/** Recovery by hand: queue failed deliveries again, one or a handler's time range. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly queue: DeliveryQueue,
    private readonly handlers: HandlersService,
    private readonly signal: WorkSignal,
  ) {}

  /** One failed (or skipped) delivery gets one more attempt now, logged with trigger manual. */
  async retry(id: number): Promise<void> {
    const delivery = await this.queue.find(id);
    if (!delivery) throw DomainError.field('DELIVERY_NOT_FOUND', 'id', `Delivery ${id} does not exist`);
    if (delivery.status !== 'failed' && delivery.status !== 'skipped') {
      throw DomainError.field('DELIVERY_NOT_RETRYABLE', 'id', `Delivery ${id} is ${delivery.status}; only failed or skipped deliveries can be retried`);
    }
    await this.requireEnabled(delivery.handlerId);
    await this.queue.requeue(id, Date.now());
    this.signal.ring();
  }

  /** Every failed delivery of a handler created within [from, to]. */
  async retryRange(handlerId: number, from: number, to: number): Promise<number> {
    if (from > to) throw DomainError.field('VALIDATION_FAILED', 'from', 'from must not be after to');
    await this.requireEnabled(handlerId);
    const queued = await this.queue.requeueFailed(handlerId, from, to, Date.now());
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
