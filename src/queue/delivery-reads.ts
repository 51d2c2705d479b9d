import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Row } from '../database/direct-sql.js';
import { num, numOrNull, placeholders } from '../database/sql.js';
import type { DeliveryState, DeliveryStatus, QueuedDeliveryName } from './delivery.js';

/**
 * The queue's rows of given events, for the event detail and idempotent replays
 * (src/events/ingest.service.ts): the deliveries still queued (a success leaves the queue; its
 * log row tells the rest, src/execution-logs/delivered-logs.ts), in run order, with their
 * handlers' names. Reads of the `deliveries` table's owner (./queue.module.ts), off the hot path.
 */
@Injectable()
export class DeliveryReads {
  constructor(private readonly dataSource: DataSource) {}

  /** The deliveries of one event still in the queue, in run order (the event detail). */
  async deliveriesOf(eventId: number): Promise<DeliveryState[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT d.id, d.handler_id, h.name AS handler_name, d.seq, d.status, d.attempts, d.next_attempt_at,
              d.last_response_code, d.last_error, d.updated_at
         FROM deliveries d LEFT JOIN handlers h ON h.id = d.handler_id
        WHERE d.event_id = ? ORDER BY d.seq`,
      [eventId],
    );
    return rows.map((row) => ({
      id: num(row.id),
      handlerId: num(row.handler_id),
      handlerName: (row.handler_name as string | null) ?? null,
      seq: num(row.seq),
      status: row.status as DeliveryStatus,
      attempts: num(row.attempts),
      nextAttemptAt: num(row.next_attempt_at),
      lastResponseCode: numOrNull(row.last_response_code),
      lastError: (row.last_error as string | null) ?? null,
      updatedAt: num(row.updated_at),
    }));
  }

  /** The deliveries of each of `eventIds` still in the queue, in run order, in one statement however many events (idempotent replays). */
  async plannedFor(eventIds: readonly number[]): Promise<Map<number, QueuedDeliveryName[]>> {
    const planned = new Map<number, QueuedDeliveryName[]>();
    if (eventIds.length === 0) return planned;
    const rows: Row[] = await this.dataSource.query(
      `SELECT d.id, d.event_id, d.handler_id, h.name AS handler_name, d.seq FROM deliveries d LEFT JOIN handlers h ON h.id = d.handler_id
        WHERE d.event_id IN ${placeholders(1, eventIds.length)} ORDER BY d.event_id, d.seq`,
      [...eventIds],
    );
    for (const row of rows) {
      const eventId = num(row.event_id);
      let list = planned.get(eventId);
      if (!list) planned.set(eventId, (list = []));
      list.push({ id: num(row.id), handlerId: num(row.handler_id), handlerName: (row.handler_name as string | null) ?? null, seq: num(row.seq) });
    }
    return planned;
  }
}
