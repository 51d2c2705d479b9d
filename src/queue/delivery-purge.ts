import { Injectable } from '@nestjs/common';
import { DirectSql, MysqlSession, Row } from '../database/direct-sql.js';
import { num, placeholders } from '../database/sql.js';

/**
 * Purge finished: the events of a batch that still have a delivery to make, then the deliveries
 * of the others, both through idx_deliveries_event. The first names the index: left to itself,
 * the planner walks a status-first index (idx_deliveries_handler_due) through every pending
 * delivery of the queue for each batch — 380 ms a batch with 200,000 deliveries pending for a
 * target that is down, where the event index reads the batch's own rows.
 */
const UNFINISHED_SQLITE = "SELECT DISTINCT event_id FROM deliveries INDEXED BY idx_deliveries_event WHERE status IN ('pending', 'in_progress') AND event_id IN ";
const UNFINISHED_MYSQL = "SELECT DISTINCT event_id FROM deliveries FORCE INDEX (idx_deliveries_event) WHERE status IN ('pending', 'in_progress') AND event_id IN ";
const PURGE = 'DELETE FROM deliveries WHERE event_id IN ';

/** The read of a batch's unfinished events, for `eventIds` of that many (its plan is checked by the service tier). */
export function unfinishedSql(mysql: boolean, eventIds: number): string {
  return (mysql ? UNFINISHED_MYSQL : UNFINISHED_SQLITE) + placeholders(1, eventIds);
}

/**
 * Retention's step on `deliveries`: the purge of finished deliveries, run inside retention's
 * transaction (src/retention/retention.service.ts) with the deletion of their events. Part of
 * the queue module, which owns the table (DeliveryQueue holds its other steps).
 */
@Injectable()
export class DeliveryPurge {
  constructor(private readonly sql: DirectSql) {}

  /**
   * Purge finished (retention, inside the caller's SQLite transaction): deletes the deliveries
   * of those `eventIds` none of whose deliveries is pending or in progress, and answers those
   * events, which the caller may now delete.
   */
  purgeFinishedSqlite(eventIds: readonly number[]): number[] {
    if (eventIds.length === 0) return [];
    const unfinished = this.sql.statement(unfinishedSql(false, eventIds.length)).all(...eventIds) as Row[];
    const finished = withoutUnfinished(eventIds, unfinished);
    if (finished.length > 0) this.sql.statement(PURGE + placeholders(1, finished.length)).run(...finished);
    return finished;
  }

  /** Purge finished on MySQL/MariaDB, on the session of the caller's transaction. */
  async purgeFinishedMysql(session: MysqlSession, eventIds: readonly number[]): Promise<number[]> {
    if (eventIds.length === 0) return [];
    const finished = withoutUnfinished(eventIds, await session.query(unfinishedSql(true, eventIds.length), eventIds));
    if (finished.length > 0) await session.write(PURGE + placeholders(1, finished.length), finished);
    return finished;
  }
}

/** The events of `eventIds` that are not among the `unfinished` rows' event_id. */
function withoutUnfinished(eventIds: readonly number[], unfinished: readonly Row[]): number[] {
  const waiting = new Set(unfinished.map((row) => num(row.event_id)));
  return eventIds.filter((id) => !waiting.has(id));
}
