import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DirectSql, MysqlSession, Row, ScriptResult, SqlStatement } from '../database/direct-sql.js';
import { changedRows, num, placeholders } from '../database/sql.js';
import { flowParams } from '../handlers/handler-flow.js';
import { finishStatements, heldOrder } from './delivery-finish.js';
import { ClaimedDelivery, ClaimShare, NextClaimFlow, PendingHandler, FinishedAttempt, PlannedDelivery } from './delivery.js';
import {
  CLAIMED_COLUMNS,
  claimable,
  HANDLER_STATE,
  leaseStatement,
  nextParams,
  nextSelect,
  NEXT_PENDING_HANDLER_MYSQL,
  noFlow,
  PENDING_HANDLERS_SQLITE,
  pendingHandlersMysql,
  shareParams,
  sharesSql,
  SQLITE_CLAIMED,
  SQLITE_HANDLER_STATE,
} from './claim-sql.js';
import { nextOf, toClaimed, toPending } from './claimed-rows.js';

/** Column order of an enqueue; `plannedValues` lists the values in the same order. */
const ENQUEUE_COLUMNS = ['event_id', 'handler_id', 'seq', 'object_key', 'status', 'holds_order', 'attempts', 'manual', 'next_attempt_at', 'created_at', 'updated_at'];
const ENQUEUE = `INSERT INTO deliveries (${ENQUEUE_COLUMNS.join(', ')}) VALUES `;
const ENQUEUE_ONE = ENQUEUE + placeholders(1, ENQUEUE_COLUMNS.length);

const MYSQL_DEADLOCK = 1213;

/**
 * The durable queue: the owner of the `deliveries` table, with DeliveryRequeue (retries by hand,
 * ./delivery-requeue.ts), DeliveryReads (the event detail's and replays' reads,
 * ./delivery-reads.ts), DeliveryCounts (the gauges' counts, ./delivery-counts.ts) and
 * DeliveryPurge (retention's purge, ./delivery-purge.ts). Every other statement on that table is
 * here, as named steps: enqueue, claim, finish and claim next, renew, release, take over expired.
 *
 * The hot-path writes run inside another module's transaction on purpose (an event with its
 * deliveries; a log row with the delivery's update and its successor's claim): those steps
 * come in two forms, `…Sqlite` to call inside DirectSql.transactionSqlite and `…Mysql` on the
 * session of DirectSql's transaction.
 */
@Injectable()
export class DeliveryQueue {
  private readonly logger = new Logger(DeliveryQueue.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
  ) {}

  // --- enqueue --------------------------------------------------------------------------------

  /** Enqueue: the deliveries planned for new events, each due now and holding its object's order. SQLite, inside the caller's transaction. */
  enqueueSqlite(planned: readonly PlannedDelivery[], now: number): void {
    const insert = this.sql.statement(ENQUEUE_ONE);
    for (const delivery of planned) insert.run(...plannedValues(delivery, now));
  }

  /**
   * Enqueue on MySQL/MariaDB as one statement of a script transaction (DirectSql.scriptTransaction):
   * each delivery's event_id is the SQL expression the event's insert left for it
   * (EventStore.insertStatementsMysql), since the ids are not known before the trip.
   */
  enqueueStatementMysql(planned: readonly PlannedDelivery<string>[], now: number): SqlStatement {
    const rest = new Array(ENQUEUE_COLUMNS.length - 1).fill('?').join(', ');
    return {
      sql: ENQUEUE + planned.map((delivery) => `(${delivery.eventId}, ${rest})`).join(', '),
      params: planned.flatMap((delivery) => plannedValues(delivery, now).slice(1)),
    };
  }

  // --- claim ----------------------------------------------------------------------------------

  /**
   * Claims up to `limit` due deliveries for `owner` until `leaseUntil`, without flow control:
   * the limit is shared among the handlers with due deliveries, the longest-waiting first
   * (`planShares`). The dispatcher claims through FlowControl (src/dispatcher/flow-control.ts),
   * which plans the shares from each handler's cap, rate limit, pause and circuit instead.
   */
  async claim(owner: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    if (!this.sql.mysql) {
      // A lease lost on power failure only sends its delivery again: not flushed (transactionSqlite).
      return this.sql.transactionSqlite(() => this.claimSharesSqlite(owner, planShares(this.pendingHandlersSqlite(), limit, now), [], now, leaseUntil), { flush: false });
    }
    const others = await this.pendingHandlerIdsMysql();
    const taken = await this.withDeadlockRetry(async (session) =>
      this.claimSharesMysql(session, owner, planShares((await this.pendingHandlersMysql(session, others)).pending, limit, now), [], now, leaseUntil),
    );
    return this.claimed(taken.map((delivery) => delivery.id));
  }

  /** The handlers with pending deliveries and the earliest due time of each (SQLite, inside the caller's transaction). */
  pendingHandlersSqlite(): PendingHandler[] {
    return (this.sql.statement(PENDING_HANDLERS_SQLITE).all() as Row[]).map(toPending);
  }

  /**
   * The handlers with pending deliveries and the earliest due time of each (MySQL/MariaDB, on the
   * caller's session), from the enabled handlers and `others` (handler ids `pendingHandlerIdsMysql`
   * found, and any the caller wants the flow of); with the flow of each of them at `flowNow`
   * (src/handlers/handler-flow.ts, FLOW_SELECT), which a claim reads next.
   */
  async pendingHandlersMysql(session: MysqlSession, others: readonly number[] = [], flowNow = Date.now()): Promise<{ pending: PendingHandler[]; flows: Row[] }> {
    const distinct = [...new Set(others)];
    const rows = await session.query(pendingHandlersMysql(distinct.length), [...flowParams(flowNow), ...distinct]);
    return {
      pending: rows.filter((row) => row.first_due !== null && row.first_due !== undefined).map(toPending),
      flows: rows.filter((row) => row.status !== null && row.status !== undefined).map((row) => ({ ...row, id: row.handler_id })),
    };
  }

  /** Every handler id with pending deliveries (MySQL/MariaDB): one seek per handler, one statement each. */
  async pendingHandlerIdsMysql(): Promise<number[]> {
    const ids: number[] = [];
    for (let after = -1; ; ) {
      const [row] = await this.sql.queryMysql(NEXT_PENDING_HANDLER_MYSQL, [after]);
      if (!row) return ids;
      after = num(row.handler_id);
      ids.push(after);
    }
  }

  /**
   * Claim shares (SQLite, inside the caller's transaction): for each share, up to its limit of
   * the handler's oldest claimable due deliveries, leased to `owner`; answered with their
   * events and handler state. `released`: held handlers (see `claimable`).
   */
  claimSharesSqlite(owner: string, shares: readonly ClaimShare[], released: readonly number[], now: number, leaseUntil: number): ClaimedDelivery[] {
    if (shares.length === 0) return [];
    const sql = `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
      WHERE id IN (${sharesSql(shares.length, released.length, false)}) RETURNING id`;
    const ids = (this.sql.statement(sql).all(owner, leaseUntil, now, ...shareParams(shares, released, now)) as { id: number }[]).map((row) => row.id);
    return ids.length === 0 ? [] : (this.sql.statement(SQLITE_CLAIMED).all(JSON.stringify(ids)) as Row[]).map(toClaimed);
  }

  /**
   * Claim shares on MySQL/MariaDB, on the session of the caller's READ COMMITTED transaction:
   * one SELECT … FOR UPDATE SKIP LOCKED per share (a UNION ALL of them), then the lease. Answers
   * the ids and handlers; read the deliveries with `claimed` once the transaction has committed.
   */
  async claimSharesMysql(
    session: MysqlSession,
    owner: string,
    shares: readonly ClaimShare[],
    released: readonly number[],
    now: number,
    leaseUntil: number,
  ): Promise<{ id: number; handlerId: number }[]> {
    if (shares.length === 0) return [];
    const rows = await session.query(sharesSql(shares.length, released.length, true), shareParams(shares, released, now));
    const claimable = await stillClaimable(session, rows.map((row) => num(row.id)), now, released);
    const taken = rows.filter((row) => claimable.has(num(row.id))).map((row) => ({ id: num(row.id), handlerId: num(row.handler_id) }));
    await leaseMysql(session, taken.map((delivery) => delivery.id), owner, now, leaseUntil);
    return taken;
  }

  /** The claimed deliveries `ids` with their events and handler state (MySQL/MariaDB, after the claim committed). */
  async claimed(ids: readonly number[]): Promise<ClaimedDelivery[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql.queryMysql(`SELECT ${CLAIMED_COLUMNS} WHERE d.id IN ${placeholders(1, ids.length)} ORDER BY d.id`, [...ids]);
    return rows.map(toClaimed);
  }

  /** Runs a READ COMMITTED transaction of claims, again when MySQL chose it as a deadlock victim. */
  async withDeadlockRetry<T>(work: (session: MysqlSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sql.transactionReadCommitted(work);
      } catch (error) {
        if ((error as { errno?: number }).errno === MYSQL_DEADLOCK && attempt < 5) continue;
        throw error;
      }
    }
  }

  // --- finish and claim next ------------------------------------------------------------------

  /**
   * Finish and claim next (SQLite, inside the caller's transaction): records how each attempt
   * ended, only where its owner still holds the lease (the delivery stops holding its object's
   * order); then, for each finished attempt that held the order and asks for it (`claimNext`),
   * claims for its owner the next delivery of the same event whose turn has now come (the same
   * condition as any claim, first attempts only: see nextSelect), when its handler is free of flow
   * control and not `excluded`. This spares the next handler of an event a trip through the general claim.
   */
  finishAndClaimNextSqlite(finished: readonly FinishedAttempt[], now: number, leaseUntil: number, flow: NextClaimFlow = noFlow(now)): ClaimedDelivery[] {
    for (const statement of finishStatements(finished, now, 'per-row')) this.sql.statement(statement.sql).run(...statement.params);
    return [...heldOrder(finished)].flatMap(([owner, deliveries]) => this.claimNextSqlite(owner, deliveries, now, leaseUntil, flow));
  }

  /**
   * Finish and claim next on MySQL/MariaDB, as statements of the caller's two-trip transaction
   * (DirectSql.scriptTransaction): `first` finishes the attempts and reads, with locks, the next
   * delivery of each event (one locking read per owner); `then`, given the first statements'
   * results, leases what those reads found and reads its handlers' state; `claimed`, given the
   * results of both, answers the claimed next deliveries.
   */
  finishAndClaimNextScriptMysql(
    finished: readonly FinishedAttempt[],
    now: number,
    leaseUntil: number,
    flow: NextClaimFlow = noFlow(now),
  ): { first: SqlStatement[]; then(results: readonly ScriptResult[]): SqlStatement[]; claimed(results: readonly ScriptResult[]): ClaimedDelivery[] } {
    const finish = finishStatements(finished, now, 'grouped');
    const owners = [...heldOrder(finished)];
    const reads = owners.map(([, deliveries]) => {
      const eventIds = [...new Set(deliveries.map((delivery) => delivery.eventId))];
      // No second read here (see stillClaimable): the deliveries read are of events committed long
      // before, and so are the earlier deliveries of their objects, but for a race with ingest that
      // the order cannot settle anyway (an earlier event committed after a later one's first call).
      return { sql: `${nextSelect(eventIds.length, flow.released.length, flow.excluded.length, true)} FOR UPDATE SKIP LOCKED`, params: [...eventIds, ...nextParams(now, flow)] };
    });
    // Each owner's rows of its locking read, by their place among the first statements' results.
    const found = (results: readonly ScriptResult[]) => owners.map((_owner, index) => results[finish.length + index] as Row[]);
    return {
      first: [...finish, ...reads],
      then: (results) => {
        const rows = found(results);
        const leases = owners.flatMap(([owner], index) => (rows[index]!.length === 0 ? [] : [leaseStatement(rows[index]!.map((row) => num(row.id)), owner, now, leaseUntil)]));
        const handlerIds = [...new Set(rows.flatMap((list) => list.map((row) => num(row.handler_id))))];
        return handlerIds.length === 0 ? leases : [...leases, { sql: `${HANDLER_STATE} ${placeholders(1, handlerIds.length)}`, params: handlerIds }];
      },
      claimed: (results) => {
        const rows = found(results);
        // Nothing found: no second trip was made, so there are no handler rows to read either.
        if (rows.every((list) => list.length === 0)) return [];
        const handlerRows = results[results.length - 1] as Row[];
        return owners.flatMap(([, deliveries], index) => nextOf(deliveries, rows[index]!, handlerRows));
      },
    };
  }

  private claimNextSqlite(owner: string, finished: readonly ClaimedDelivery[], now: number, leaseUntil: number, flow: NextClaimFlow): ClaimedDelivery[] {
    const eventIds = JSON.stringify([...new Set(finished.map((delivery) => delivery.eventId))]);
    const sql = `UPDATE deliveries SET status = 'in_progress', lease_owner = ?, lease_expires_at = ?, updated_at = ?
      WHERE id IN (${nextSelect(1, flow.released.length, flow.excluded.length, false)})
      RETURNING id, event_id, handler_id, seq, attempts, manual, holds_order`;
    const rows = this.sql.statement(sql).all(owner, leaseUntil, now, eventIds, ...nextParams(now, flow)) as Row[];
    if (rows.length === 0) return [];
    const handlerIds = JSON.stringify([...new Set(rows.map((row) => num(row.handler_id)))]);
    return nextOf(finished, rows, this.sql.statement(SQLITE_HANDLER_STATE).all(handlerIds) as Row[]);
  }

  // --- leases ---------------------------------------------------------------------------------

  /** Renew: extends the leases `owner` still holds. */
  async renew(owner: string, ids: readonly number[], leaseUntil: number): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET lease_expires_at = ? WHERE lease_owner = ? AND status = 'in_progress' AND id IN ${placeholders(1, ids.length)}`,
      [leaseUntil, owner, ...ids],
    );
  }

  /** Release: gives back deliveries `owner` holds but will not finish (shutdown), unchanged. */
  async release(owner: string, ids: readonly number[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query(
      `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
        WHERE lease_owner = ? AND status = 'in_progress' AND id IN ${placeholders(1, ids.length)}`,
      [now, owner, ...ids],
    );
  }

  /** Take over expired: hands deliveries whose lease ran out (their worker died) back to the queue, for any worker. */
  async takeOverExpired(now: number): Promise<number> {
    const released = await changedRows(
      this.dataSource,
      `UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
        WHERE status = 'in_progress' AND lease_expires_at < ?`,
      [now, now],
    );
    if (released > 0) this.logger.warn(`Took over ${released} deliveries whose lease had expired`);
    return released;
  }
}

/**
 * Shares `limit` among the handlers with due deliveries, one at a time in turn, the handler
 * whose earliest delivery has waited longest first (ties by id); each share at most `caps`
 * of its handler when given.
 */
export function planShares(pending: readonly PendingHandler[], limit: number, now: number, caps?: ReadonlyMap<number, number>): ClaimShare[] {
  const due = pending.filter((handler) => handler.firstDueAt <= now).sort((a, b) => a.firstDueAt - b.firstDueAt || a.handlerId - b.handlerId);
  const shares = due.map((handler) => ({ handlerId: handler.handlerId, limit: 0, cap: caps?.get(handler.handlerId) ?? limit }));
  let left = limit;
  while (left > 0) {
    let gave = false;
    for (const share of shares) {
      if (left === 0) break;
      if (share.limit >= share.cap) continue;
      share.limit += 1;
      left -= 1;
      gave = true;
    }
    if (!gave) break;
  }
  return shares.filter((share) => share.limit > 0).map(({ handlerId, limit: n }) => ({ handlerId, limit: n }));
}

/** One row of ENQUEUE_COLUMNS: a first attempt, due now, that holds its object's order. */
function plannedValues(delivery: PlannedDelivery<unknown>, now: number): unknown[] {
  return [delivery.eventId, delivery.handlerId, delivery.seq, delivery.objectKey, 'pending', 1, 0, 0, now, now, now];
}

/**
 * MySQL/MariaDB: which of the deliveries just selected FOR UPDATE are claimable by a fresh read.
 * A locking read sees the latest committed rows, but the order check inside it (NOT EXISTS, a
 * plain read) sees the database as it was when the statement began: a delivery committed with
 * its event meanwhile (ingest) shows, while the earlier delivery of its object committed in the
 * same transaction does not. Read again, now that the selected rows are locked, the earlier one
 * shows and the later one waits.
 */
async function stillClaimable(session: MysqlSession, ids: readonly number[], now: number, released: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const rows = await session.query(`SELECT d.id FROM deliveries d WHERE d.id IN ${placeholders(1, ids.length)} AND ${claimable(released.length)}`, [
    ...ids,
    now,
    ...released,
  ]);
  return new Set(rows.map((row) => num(row.id)));
}

/** MySQL: leases the selected deliveries to `owner` (the second half of a claim). */
async function leaseMysql(session: MysqlSession, ids: readonly number[], owner: string, now: number, leaseUntil: number): Promise<void> {
  if (ids.length === 0) return;
  const { sql, params } = leaseStatement(ids, owner, now, leaseUntil);
  await session.write(sql, params);
}

