import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { isMysql, num } from '../database/sql.js';

/** A delivery claimed by this worker, with the event it carries. */
export interface ClaimedDelivery {
  id: number;
  eventId: number;
  handlerId: number;
  seq: number;
  attempts: number;
  manual: boolean;
  blocking: boolean;
  eventsId: string;
  objectId: number;
  dt: string;
  dataJson: string;
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
 * unfinished. That one condition gives both orders of SPEC §3: handlers of an event one after
 * another by priority, and events about one object in the order they were accepted.
 */
const CLAIMABLE = `
  d.status = 'pending' AND d.next_attempt_at <= ?
  AND (d.blocking = 0 OR NOT EXISTS (
    SELECT 1 FROM deliveries p
     WHERE p.object_key = d.object_key AND p.blocking = 1
       AND (p.event_id < d.event_id OR (p.event_id = d.event_id AND p.seq < d.seq))))`;

const MYSQL_DEADLOCK = 1213;

/** The durable queue: the `deliveries` table, claimed under leases. */
@Injectable()
export class DeliveryQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryQueue.name);
  private readonly mysql: boolean;
  private claimRunner: QueryRunner | null = null;

  constructor(private readonly dataSource: DataSource) {
    this.mysql = isMysql(dataSource);
  }

  /** Claims up to `limit` due deliveries for `owner` until `leaseUntil`. */
  async claim(owner: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    const ids = this.mysql ? await this.claimMysql(owner, limit, now, leaseUntil) : await this.claimSqlite(owner, limit, now, leaseUntil);
    if (ids.length === 0) return [];
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT d.id, d.event_id, d.handler_id, d.seq, d.attempts, d.manual, d.blocking, e.events_id, e.object_id, e.dt, e.data
         FROM deliveries d JOIN events e ON e.id = d.event_id
        WHERE d.id IN (${ids.map(() => '?').join(', ')}) ORDER BY d.id`,
      ids,
    );
    return rows.map((row) => ({
      id: num(row.id),
      eventId: num(row.event_id),
      handlerId: num(row.handler_id),
      seq: num(row.seq),
      attempts: num(row.attempts),
      manual: num(row.manual) === 1,
      blocking: num(row.blocking) === 1,
      eventsId: String(row.events_id),
      objectId: num(row.object_id),
      dt: String(row.dt),
      dataJson: String(row.data),
    }));
  }

  /** SQLite: one UPDATE … RETURNING; the database's single writer makes it atomic. */
  private async claimSqlite(owner: string, limit: number, now: number, leaseUntil: number): Promise<number[]> {
    const rows: { id: number }[] = await this.dataSource.query(
      `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
        WHERE id IN (SELECT d.id FROM deliveries d WHERE ${CLAIMABLE} ORDER BY d.next_attempt_at, d.id LIMIT ?)
       RETURNING id`,
      [owner, leaseUntil, now, now, limit],
    );
    return rows.map((row) => num(row.id));
  }

  /**
   * MySQL/MariaDB: SELECT … FOR UPDATE SKIP LOCKED at READ COMMITTED, retried on deadlock.
   * Claims run on one connection of their own, set to READ COMMITTED once, so a claim costs
   * four statements and no pool round trip.
   */
  private async claimMysql(owner: string, limit: number, now: number, leaseUntil: number): Promise<number[]> {
    for (let attempt = 1; ; attempt++) {
      const runner = await this.claimConnection();
      try {
        await runner.query('START TRANSACTION');
        const rows: { id: number }[] = await runner.query(
          `SELECT d.id FROM deliveries d WHERE ${CLAIMABLE} ORDER BY d.next_attempt_at, d.id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [now, limit],
        );
        const ids = rows.map((row) => num(row.id));
        if (ids.length > 0) {
          await runner.query(
            `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
              WHERE id IN (${ids.map(() => '?').join(', ')})`,
            [owner, leaseUntil, now, ...ids],
          );
        }
        await runner.query('COMMIT');
        return ids;
      } catch (error) {
        await runner.query('ROLLBACK').catch(() => undefined);
        const errno = (error as { driverError?: { errno?: number } }).driverError?.errno;
        if (errno === MYSQL_DEADLOCK && attempt < 5) continue;
        await this.dropClaimConnection();
        throw error;
      }
    }
  }

  private async claimConnection(): Promise<QueryRunner> {
    if (this.claimRunner && !this.claimRunner.isReleased) return this.claimRunner;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    await runner.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    this.claimRunner = runner;
    return runner;
  }

  private async dropClaimConnection(): Promise<void> {
    const runner = this.claimRunner;
    this.claimRunner = null;
    await runner?.release().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.dropClaimConnection();
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
   * Records the end of attempts, each only if `owner` still holds its lease: one UPDATE for the
   * whole batch (a CASE per column), so a group of finished calls costs one statement.
   */
  async complete(manager: EntityManager, owner: string, updates: readonly DeliveryUpdate[], now: number): Promise<void> {
    if (updates.length === 0) return;
    const params: unknown[] = [];
    const column = (name: string, value: (update: DeliveryUpdate) => unknown, expression = '?') => {
      const cases = updates.map((update) => {
        params.push(update.id, value(update));
        return `WHEN ? THEN ${expression}`;
      });
      return `${name} = CASE id ${cases.join(' ')} END`;
    };
    const assignments = [
      column('status', (u) => u.status),
      column('attempts', (u) => (u.attempted ? 1 : 0), 'attempts + ?'),
      column('manual', (u) => (u.manual ? 1 : 0)),
      column('next_attempt_at', (u) => u.nextAttemptAt),
      column('last_response_code', (u) => u.responseCode),
      column('last_error', (u) => (u.error === null ? null : u.error.slice(0, 500))),
    ];
    params.push(now, owner, ...updates.map((update) => update.id));
    await manager.query(
      `UPDATE deliveries
          SET ${assignments.join(', ')},
              blocking = 0, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
        WHERE lease_owner = ? AND status = 'in_progress' AND id IN (${updates.map(() => '?').join(', ')})`,
      params,
    );
  }
}
