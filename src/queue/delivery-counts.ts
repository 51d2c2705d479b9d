import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Row } from '../database/direct-sql.js';
import { num, numOrNull } from '../database/sql.js';
import type { DeliveryStatus } from './delivery.js';

/** The deliveries of every instance by state, at one moment, each counted up to a limit (DeliveryCounts.counts). */
export interface QueueCounts {
  /** Pending and due: waiting for a worker. */
  due: number;
  /** Pending, due later (a retry). */
  scheduled: number;
  inFlight: number;
  failed: number;
  /** When the longest-waiting due delivery came due; null when none is due. */
  oldestDueAt: number | null;
}

/** The states of the queue gauges, each a range of idx_deliveries_due (status, next_attempt_at, id): a status, and for pending ones a side of now. */
export type QueueState = 'due' | 'scheduled' | 'in_flight' | 'failed';
const STATES: Record<QueueState, { status: DeliveryStatus; now?: 'up to' | 'after' }> = {
  due: { status: 'pending', now: 'up to' },
  scheduled: { status: 'pending', now: 'after' },
  in_flight: { status: 'in_progress' },
  failed: { status: 'failed' },
};

/** Where a count slice stopped: the last delivery it passed, in index order. */
export interface QueuePosition {
  at: number;
  id: number;
}

/**
 * The WHERE of a state's range at `now`, from `after` on (in index order) when given: the
 * position then starts the index range (next_attempt_at >= ?), so a walk never reads an entry
 * twice; a scheduled delivery's own bound (after now) is implied by it.
 */
function stateRange(state: QueueState, now: number, after: QueuePosition | null): { where: string; params: unknown[] } {
  const { status, now: side } = STATES[state];
  const where = [`status = '${status}'`];
  const params: unknown[] = [];
  if (after) {
    where.push('next_attempt_at >= ? AND (next_attempt_at > ? OR id > ?)');
    params.push(after.at, after.at, after.id);
  }
  if (side === 'up to' || (side === 'after' && !after)) {
    where.push(side === 'up to' ? 'next_attempt_at <= ?' : 'next_attempt_at > ?');
    params.push(now);
  }
  return { where: where.join(' AND '), params };
}

/**
 * The queue's depth by state, for the gauges (src/metrics/runtime-gauges.ts): the reads of
 * `deliveries` that count rather than claim. Part of the queue module, which owns the table
 * (DeliveryQueue holds its other steps); kept apart because they serve the scrape, never the
 * hot path, and read whole ranges of idx_deliveries_due where the claims seek.
 */
@Injectable()
export class DeliveryCounts {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Counts (the queue gauges): the deliveries of every instance in each state, each counted up
   * to `limit` + 1 rows only, so the statement costs the same however deep the queue is (a
   * figure above `limit` means "more than `limit`"; countSlice walks such a state), and when the
   * longest-waiting due delivery came due (one index lookup). One statement, every state a
   * range of idx_deliveries_due.
   */
  async counts(now: number, limit = 1000): Promise<QueueCounts> {
    const states: QueueState[] = ['due', 'scheduled', 'in_flight', 'failed'];
    const ranges = states.map((state) => stateRange(state, now, null));
    const [row]: Row[] = await this.dataSource.query(
      `SELECT ${ranges.map(({ where }, i) => `(SELECT COUNT(*) FROM (SELECT 1 AS one FROM deliveries WHERE ${where} LIMIT ?) capped) AS ${states[i]}`).join(', ')},
              (SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending') AS earliest`,
      ranges.flatMap(({ params }) => [...params, limit + 1]),
    );
    const earliest = numOrNull(row!.earliest);
    return {
      due: num(row!.due),
      scheduled: num(row!.scheduled),
      inFlight: num(row!.in_flight),
      failed: num(row!.failed),
      oldestDueAt: earliest !== null && earliest <= now ? earliest : null,
    };
  }

  /**
   * Count slice: one step of an exact count of a large state (as of `now`), walking its range
   * of idx_deliveries_due in (next_attempt_at, id) order from `after` (null: the start). Reads
   * at most `size` index entries: answers how many it passed and where to go on from, or null
   * when the state's range has ended.
   */
  async countSlice(state: QueueState, now: number, after: QueuePosition | null, size: number): Promise<{ counted: number; next: QueuePosition | null }> {
    const { where, params } = stateRange(state, now, after);
    const range = `FROM deliveries WHERE ${where}`;
    const [last]: Row[] = await this.dataSource.query(`SELECT next_attempt_at AS at, id ${range} ORDER BY next_attempt_at, id LIMIT 1 OFFSET ?`, [...params, size - 1]);
    if (last) return { counted: size, next: { at: num(last.at), id: num(last.id) } };
    const [rest]: Row[] = await this.dataSource.query(`SELECT COUNT(*) AS n FROM (SELECT 1 AS one ${range} LIMIT ?) capped`, [...params, size]);
    return { counted: num(rest!.n), next: null };
  }
}
