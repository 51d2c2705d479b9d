import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DirectSql, MysqlSession, Row } from '../database/direct-sql.js';
import { isMysql, num, numOrNull } from '../database/sql.js';

/** A delivery claimed by this worker, with the event it carries and its handler's current state. */
export interface ClaimedDelivery {
  id: number;
  eventId: number;
  handlerId: number;
  seq: number;
  attempts: number;
  manual: boolean;
  blocking: boolean;
  eventType: string;
  objectId: number;
  dt: string;
  dataJson: string;
  /** The handler row as the claim read it: null when the handler was deleted. */
  handlerRow: { status: string; failingSince: number | null; updatedAt: number } | null;
}

export type DeliveryStatus = 'pending' | 'in_progress' | 'succeeded' | 'failed' | 'skipped';

export interface DeliveryUpdate {
  id: number;
  status: Exclude<DeliveryStatus, 'in_progress'>;
  /** Counts the call just made; false for a skip. */
  attempted: boolean;
  nextAttemptAt: number;
  manual: boolean;
  responseCode: number | null;
  error: string | null;
}

/**
 * A due delivery may be claimed when it is not a first attempt, or when no earlier first
 * attempt on the same object (earlier event, or earlier handler of the same event) is still
 * unfinished. That one condition gives both orders the README names (Dispatch, Order): handlers of an event one after
 * another by priority, and events about one object in the order they were accepted.
 */
const CLAIMABLE = `
  d.status = 'pending' AND d.next_attempt_at <= ?
  AND (d.blocking = 0 OR NOT EXISTS (
    SELECT 1 FROM deliveries p
     WHERE p.object_key = d.object_key AND p.blocking = 1
       AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.seq < d.seq))))`;

/** What a claim hands the worker: the delivery, its event and its handler's current state. */
const CLAIMED_COLUMNS = `d.id, d.event_id, d.handler_id, d.seq, d.attempts, d.manual, d.blocking,
  e.events_id, e.object_id, e.dt, e.data, h.status AS handler_status, h.failing_since, h.updated_at AS handler_updated_at
  FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN handlers h ON h.id = d.handler_id`;

const SQLITE_CLAIM = `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
  WHERE id IN (SELECT d.id FROM deliveries d WHERE ${CLAIMABLE} ORDER BY d.next_attempt_at, d.id LIMIT ?)
  RETURNING id`;
const SQLITE_CLAIMED = `SELECT ${CLAIMED_COLUMNS} WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id`;

/**
 * The columns a successor claim reads; the event's own columns come from the delivery that
 * finished. Successor claims name the index by event: the planners would otherwise walk every
 * pending delivery by status.
 */
const SUCCESSOR_COLUMNS = 'd.id, d.event_id, d.handler_id, d.seq, d.attempts, d.manual, d.blocking';
const SQLITE_SUCCESSORS = `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
  WHERE id IN (SELECT d.id FROM deliveries d INDEXED BY idx_deliveries_event WHERE d.event_id IN (SELECT value FROM json_each(?)) AND ${CLAIMABLE})
  RETURNING id, event_id, handler_id, seq, attempts, manual, blocking`;
const SQLITE_HANDLER_STATE = 'SELECT id, status AS handler_status, failing_since, updated_at AS handler_updated_at FROM handlers WHERE id IN (SELECT value FROM json_each(?))';

const MYSQL_DEADLOCK = 1213;

/** The columns of the finished-attempt UPDATE that differ between deliveries of one batch. */
function updateKey(update: DeliveryUpdate): string {
  return JSON.stringify([update.status, update.attempted, update.manual, update.status === 'pending' ? update.nextAttemptAt : 0, update.responseCode, update.error]);
}

/** The durable queue: the `deliveries` table, claimed under leases. */
@Injectable()
export class DeliveryQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryQueue.name);
  private readonly mysql: boolean;
  private claimConnection: Promise<MysqlSession & { close(): void; destroy(): void }> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
  ) {
    this.mysql = isMysql(dataSource);
  }

  /** Claims up to `limit` due deliveries for `owner` until `leaseUntil`, oldest first. */
  async claim(owner: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    if (!this.mysql) {
      const rows = await this.sql.transactionSqlite(() => {
        const ids = (this.sql.statement(SQLITE_CLAIM).all(owner, leaseUntil, now, now, limit) as { id: number }[]).map((row) => row.id);
        return ids.length === 0 ? [] : (this.sql.statement(SQLITE_CLAIMED).all(JSON.stringify(ids)) as Row[]);
      });
      return rows.map(toClaimed);
    }
    const ids = await this.claimMysql(owner, limit, now, leaseUntil);
    if (ids.length === 0) return [];
    const rows = await this.sql.queryMysql(`SELECT ${CLAIMED_COLUMNS} WHERE d.id IN (${ids.map(() => '?').join(', ')}) ORDER BY d.id`, ids);
    return rows.map(toClaimed);
  }

  /**
   * MySQL/MariaDB: SELECT … FOR UPDATE SKIP LOCKED at READ COMMITTED, retried on deadlock.
   * Claims run on one connection of their own, set to READ COMMITTED once.
   */
  private async claimMysql(owner: string, limit: number, now: number, leaseUntil: number): Promise<number[]> {
    for (let attempt = 1; ; attempt++) {
      this.claimConnection ??= this.sql.dedicatedMysql(['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED']);
      let connection: Awaited<NonNullable<typeof this.claimConnection>>;
      try {
        connection = await this.claimConnection;
      } catch (error) {
        this.claimConnection = null;
        throw error;
      }
      try {
        await connection.query('START TRANSACTION');
        const rows = await connection.query<{ id: number }[]>(
          `SELECT d.id FROM deliveries d WHERE ${CLAIMABLE} ORDER BY d.next_attempt_at, d.id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [now, limit],
        );
        const ids = rows.map((row) => num(row.id));
        if (ids.length > 0) {
          await connection.write(
            `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
              WHERE id IN (${ids.map(() => '?').join(', ')})`,
            [owner, leaseUntil, now, ...ids],
          );
        }
        await connection.query('COMMIT');
        return ids;
      } catch (error) {
        await connection.query('ROLLBACK').catch(() => undefined);
        if ((error as { errno?: number }).errno === MYSQL_DEADLOCK && attempt < 5) continue;
        this.claimConnection = null;
        connection.destroy();
        throw error;
      }
    }
  }

  /**
   * Successor claims, inside the transaction that records finished first attempts: for each
   * finished delivery, the next delivery of its event whose turn has now come (the same
   * condition as any claim), claimed for `owner`. This spares the next handler of an event a
   * trip through the general claim. SQLite: call inside DirectSql.transactionSqlite.
   */
  successorsSqlite(owner: string, finished: readonly ClaimedDelivery[], now: number, leaseUntil: number): ClaimedDelivery[] {
    if (finished.length === 0) return [];
    const eventIds = JSON.stringify([...new Set(finished.map((delivery) => delivery.eventId))]);
    const rows = this.sql.statement(SQLITE_SUCCESSORS).all(owner, leaseUntil, now, eventIds, now) as Row[];
    if (rows.length === 0) return [];
    const handlerIds = JSON.stringify([...new Set(rows.map((row) => num(row.handler_id)))]);
    return successors(finished, rows, this.sql.statement(SQLITE_HANDLER_STATE).all(handlerIds) as Row[]);
  }

  /** Successor claims on MySQL/MariaDB, on the session of the transaction that records the finished attempts. */
  async successorsMysql(session: MysqlSession, owner: string, finished: readonly ClaimedDelivery[], now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    if (finished.length === 0) return [];
    const eventIds = [...new Set(finished.map((delivery) => delivery.eventId))];
    const rows = await session.query(
      `SELECT ${SUCCESSOR_COLUMNS} FROM deliveries d FORCE INDEX (idx_deliveries_event) WHERE d.event_id IN (${eventIds.map(() => '?').join(', ')}) AND ${CLAIMABLE}
        FOR UPDATE SKIP LOCKED`,
      [...eventIds, now],
    );
    if (rows.length === 0) return [];
    const ids = rows.map((row) => num(row.id));
    await session.write(
      `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id IN (${ids.map(() => '?').join(', ')})`,
      [owner, leaseUntil, now, ...ids],
    );
    const handlerIds = [...new Set(rows.map((row) => num(row.handler_id)))];
    const handlers = await session.query(
      `SELECT id, status AS handler_status, failing_since, updated_at AS handler_updated_at FROM handlers WHERE id IN (${handlerIds.map(() => '?').join(', ')})`,
      handlerIds,
    );
    return successors(finished, rows, handlers);
  }

  async onApplicationShutdown(): Promise<void> {
    const connection = this.claimConnection;
    this.claimConnection = null;
    await connection?.then((c) => c.close()).catch(() => undefined);
  }

  /** Extends the leases this worker still holds. */
  async renew(owner: string, ids: readonly number[], leaseUntil: number): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'in_progress' AND id IN (${ids.map(() => '?').join(', ')})`,
      [leaseUntil, owner, ...ids],
    );
  }

  /** Hands deliveries whose lease ran out (their worker died) back to the queue. */
  async releaseExpired(now: number): Promise<number> {
    const runner = this.dataSource.createQueryRunner();
    let released = 0;
    try {
      const result = await runner.query(
        `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
          WHERE status = 'in_progress' AND lease_expires_at < ?`,
        [now, now],
        true,
      );
      released = result.affected ?? 0;
    } finally {
      await runner.release();
    }
    if (released > 0) this.logger.warn(`Took over ${released} deliveries whose lease had expired`);
    return released;
  }

  /** Gives back deliveries this worker holds but will not finish (shutdown). */
  async release(owner: string, ids: readonly number[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
        WHERE lease_owner = ? AND status = 'in_progress' AND id IN (${ids.map(() => '?').join(', ')})`,
      [now, owner, ...ids],
    );
  }

  /**
   * The statements that record the end of attempts, each only if `owner` still holds its
   * lease: deliveries that ended the same way share one UPDATE (usually one for a whole batch
   * of successes) with `perStatement: 'all'`; `'one'` gives one statement of the same text per
   * delivery (SQLite, where a prepared statement run per row is cheapest). A finished
   * delivery's next_attempt_at is the time of this write.
   */
  completion(owner: string, updates: readonly DeliveryUpdate[], now: number, perStatement: 'all' | 'one'): { sql: string; params: unknown[] }[] {
    const groups = new Map<string, DeliveryUpdate[]>();
    for (const update of updates) {
      const key = updateKey(update);
      const group = groups.get(key);
      if (group) group.push(update);
      else groups.set(key, [update]);
    }
    return [...groups.values()].flatMap((group) => {
      const first = group[0]!;
      const values = [
        first.status,
        first.attempted ? 1 : 0,
        first.manual ? 1 : 0,
        first.status === 'pending' ? first.nextAttemptAt : now,
        first.responseCode,
        first.error === null ? null : first.error.slice(0, 500),
        now,
        owner,
      ];
      const ids = group.map((update) => update.id);
      const batches = perStatement === 'all' ? [ids] : ids.map((id) => [id]);
      return batches.map((batch) => ({
        sql: `UPDATE deliveries
                 SET status = ?, attempts = attempts + ?, manual = ?, next_attempt_at = ?, last_response_code = ?, last_error = ?,
                     blocking = 0, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
               WHERE lease_owner = ? AND status = 'in_progress' AND id IN (${batch.map(() => '?').join(', ')})`,
        params: [...values, ...batch],
      }));
    });
  }
}

/** Successor rows as claimed deliveries: the event from the delivery that finished, the handler state as just read. */
function successors(finished: readonly ClaimedDelivery[], rows: Row[], handlerRows: Row[]): ClaimedDelivery[] {
  const events = new Map(finished.map((delivery) => [delivery.eventId, delivery]));
  const handlers = new Map(handlerRows.map((row) => [num(row.id), row]));
  return rows.map((row) => {
    const event = events.get(num(row.event_id))!;
    return toClaimed({
      ...row,
      events_id: event.eventType,
      object_id: event.objectId,
      dt: event.dt,
      data: event.dataJson,
      ...(handlers.get(num(row.handler_id)) ?? { handler_status: null }),
      id: row.id,
    });
  });
}

function toClaimed(row: Row): ClaimedDelivery {
  return {
    id: num(row.id),
    eventId: num(row.event_id),
    handlerId: num(row.handler_id),
    seq: num(row.seq),
    attempts: num(row.attempts),
    manual: num(row.manual) === 1,
    blocking: num(row.blocking) === 1,
    eventType: String(row.events_id),
    objectId: num(row.object_id),
    dt: String(row.dt),
    dataJson: String(row.data),
    handlerRow:
      row.handler_status === null || row.handler_status === undefined
        ? null
        : { status: String(row.handler_status), failingSince: numOrNull(row.failing_since), updatedAt: num(row.handler_updated_at) },
  };
}
