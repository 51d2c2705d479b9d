import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors.js';
import { num } from '../database/sql.js';
import { HandlersService } from '../handlers/handlers.service.js';
import { WorkSignal } from './work-signal.js';

/** Recovery by hand: queue failed deliveries again, one or a handler's time range. */
@Injectable()
export class DeliveriesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly handlers: HandlersService,
    private readonly signal: WorkSignal,
  ) {}

  /** One failed (or skipped) delivery gets one more attempt now, logged with trigger manual. */
  async retry(id: number): Promise<void> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT id, handler_id, status FROM deliveries WHERE id = ?', [id]);
    const row = rows[0];
    if (!row) throw DomainError.field('DELIVERY_NOT_FOUND', 'id', `Delivery ${id} does not exist`);
    if (row.status !== 'failed' && row.status !== 'skipped') {
      throw DomainError.field('DELIVERY_NOT_RETRYABLE', 'id', `Delivery ${id} is ${String(row.status)}; only failed or skipped deliveries can be retried`);
    }
    await this.requireEnabled(num(row.handler_id));
    const now = Date.now();
    await this.dataSource.query(
      `UPDATE deliveries SET status = 'pending', manual = 1, next_attempt_at = ?, updated_at = ?
        WHERE id = ? AND status IN ('failed', 'skipped')`,
      [now, now, id],
    );
    this.signal.ring();
  }

  /** Every failed delivery of a handler created within [from, to]. */
  async retryRange(handlerId: number, from: number, to: number): Promise<number> {
    if (from > to) throw DomainError.field('VALIDATION_FAILED', 'from', 'from must not be after to');
    await this.requireEnabled(handlerId);
    const now = Date.now();
    const runner = this.dataSource.createQueryRunner();
    try {
      const result = await runner.query(
        `UPDATE deliveries SET status = 'pending', manual = 1, next_attempt_at = ?, updated_at = ?
          WHERE handler_id = ? AND status = 'failed' AND created_at >= ? AND created_at <= ?`,
        [now, now, handlerId, from, to],
        true,
      );
      this.signal.ring();
      return result.affected ?? 0;
    } finally {
      await runner.release();
    }
  }

  private async requireEnabled(handlerId: number): Promise<void> {
    const handler = await this.handlers.get(handlerId);
    if (handler.status !== 'enabled') {
      throw DomainError.field('HANDLER_NOT_ENABLED', 'handler_id', `Handler ${handlerId} is ${handler.status}; enable it before retrying`);
    }
  }
}
