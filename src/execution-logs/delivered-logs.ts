import { Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Row } from '../database/direct-sql.js';
import { isMysql, num, numOrNull, placeholders } from '../database/sql.js';
import { tableThrough } from './log-search.js';

/** A delivery that succeeded, as its success log row tells it. */
export interface DeliveredAttempt {
  deliveryId: number;
  eventId: number;
  handlerId: number;
  handlerName: string;
  /** The attempt that succeeded: the delivery's attempts. */
  attempt: number;
  responseCode: number | null;
  error: string | null;
  /** When the success was written. */
  at: number;
}

/**
 * The deliveries of events that succeeded, read from their log rows. A delivery that succeeds
 * leaves the queue (src/queue/delivery-queue.ts, finishStatements): its success log row, which
 * the same transaction writes, is from then on the record of how it ended. The event detail
 * and idempotent replays (src/events/ingest.service.ts) put these beside the deliveries still
 * in the queue. A read of `execution_logs`, whose owner is this folder; a module of its own so
 * that the events module can use it without the execution-logs module, which imports events.
 *
 * A success log row always outlives its event: both expire LOG_RETENTION_DAYS after they were
 * written, and the row is written after the event was accepted.
 */
@Injectable()
export class DeliveredLogs {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The succeeded deliveries of these events, one per delivery (its latest success: a delivery
   * whose lease ran out during its call can have been sent, and have succeeded, twice). Named
   * index, no ORDER BY: left to itself, a planner may walk the primary key for the order, through
   * the whole table (the rows of a few events are sorted here instead).
   */
  async of(eventIds: readonly number[]): Promise<DeliveredAttempt[]> {
    if (eventIds.length === 0) return [];
    const rows: Row[] = await this.dataSource.query(
      `SELECT id, delivery_id, event_id, handler_id, handler_name, attempt, response_code, error, created_at
         FROM ${tableThrough('idx_logs_event', isMysql(this.dataSource))}
        WHERE event_id IN ${placeholders(1, eventIds.length)} AND status = 'success' AND delivery_id IS NOT NULL`,
      [...eventIds],
    );
    const latest = new Map<number, DeliveredAttempt>();
    for (const row of rows.sort((a, b) => num(a.id) - num(b.id))) {
      latest.set(num(row.delivery_id), {
        deliveryId: num(row.delivery_id),
        eventId: num(row.event_id),
        handlerId: num(row.handler_id),
        handlerName: String(row.handler_name),
        attempt: num(row.attempt),
        responseCode: numOrNull(row.response_code),
        error: (row.error as string | null) ?? null,
        at: num(row.created_at),
      });
    }
    return [...latest.values()];
  }
}

@Module({ providers: [DeliveredLogs], exports: [DeliveredLogs] })
export class DeliveredLogsModule {}
