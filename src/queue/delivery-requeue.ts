import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import type { Row } from '../database/direct-sql.js';
import { changedRows, num } from '../database/sql.js';
import type { DeliveryStatus } from './delivery.js';

/**
 * Retries by hand on the queue (src/dispatcher/deliveries.service.ts): one failed or skipped
 * delivery, or every failed delivery of a handler within a time range, due again now and marked
 * manual. A step of the `deliveries` table's owner (./queue.module.ts), run inside the caller's
 * transaction with its audit row when given one.
 */
@Injectable()
export class DeliveryRequeue {
  constructor(private readonly dataSource: DataSource) {}

  /** The delivery's handler and state, or null when it does not exist. */
  async find(id: number): Promise<{ id: number; handlerId: number; status: DeliveryStatus } | null> {
    const [row]: Row[] = await this.dataSource.query('SELECT id, handler_id, status FROM deliveries WHERE id = ?', [id]);
    return row ? { id: num(row.id), handlerId: num(row.handler_id), status: row.status as DeliveryStatus } : null;
  }

  /** Requeue one failed (or skipped) delivery: one more attempt, due now, marked manual. False when it is neither (any more). */
  async requeue(id: number, now: number, manager?: EntityManager): Promise<boolean> {
    const changed = await changedRows(
      manager ?? this.dataSource,
      `UPDATE deliveries SET status = 'pending', manual = 1, next_attempt_at = ?, updated_at = ?
        WHERE id = ? AND status IN ('failed', 'skipped')`,
      [now, now, id],
    );
    return changed > 0;
  }

  /** Requeue failed: every failed delivery of a handler created within [from, to], as `requeue` does one. */
  requeueFailed(handlerId: number, from: number, to: number, now: number, manager?: EntityManager): Promise<number> {
    return changedRows(
      manager ?? this.dataSource,
      `UPDATE deliveries SET status = 'pending', manual = 1, next_attempt_at = ?, updated_at = ?
        WHERE handler_id = ? AND status = 'failed' AND created_at >= ? AND created_at <= ?`,
      [now, now, handlerId, from, to],
    );
  }
}
