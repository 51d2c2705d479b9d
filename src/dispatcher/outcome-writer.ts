import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { DirectSql, MysqlSession } from '../database/direct-sql.js';
import { GroupCommit } from '../database/group-commit.js';
import { placeholders } from '../database/sql.js';
import { ExecutionLogRecord, LOG_COLUMNS, logValues } from '../execution-logs/execution-log.js';
import { ClaimedDelivery, DeliveryQueue, DeliveryUpdate } from './delivery-queue.js';

/** Everything one finished call changes. */
export interface Outcome {
  owner: string;
  log: ExecutionLogRecord;
  update: DeliveryUpdate;
  /** Start (a timestamp) or end (null) a handler's failure streak; undefined leaves it alone. */
  streak?: { handlerId: number; failingSince: number | null };
  /** The finished delivery, when the next delivery of its event may be claimed for `owner` in the same transaction. */
  chain?: ClaimedDelivery;
}

const LOG_INSERT = `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES `;
const END_STREAK = 'UPDATE handlers SET failing_since = NULL WHERE id = ?';
const START_STREAK = 'UPDATE handlers SET failing_since = ? WHERE id = ? AND failing_since IS NULL';

type Connection = MysqlSession & { close(): void; destroy(): void };

/**
 * Writes finished calls: the execution log rows, the deliveries' next state and the
 * handlers' failure streaks, for every call that finished meanwhile, in one transaction; and
 * in that transaction claims the next delivery of each event whose first attempt ended (see
 * DeliveryQueue.successors*). Answers each outcome with its successor, if one was claimed.
 *
 * On MySQL/MariaDB the writes run on connections of their own at READ COMMITTED, so they take
 * no gap locks that would hold up ingest; two may be in progress at once.
 */
@Injectable()
export class OutcomeWriter implements OnApplicationShutdown {
  private readonly group: GroupCommit<Outcome, ClaimedDelivery | null>;
  /** MySQL: the writers' connections not in use. */
  private idle: Connection[] = [];
  private closed = false;

  constructor(
    private readonly sql: DirectSql,
    private readonly queue: DeliveryQueue,
    private readonly config: AppConfig,
  ) {
    // SQLite writes block the process anyway; on MySQL a second write overlaps the first one's round trips.
    this.group = new GroupCommit((outcomes) => this.write(outcomes), 500, sql.mysql ? 2 : 1);
  }

  /**
   * Resolves once written, with the successor claimed for the outcome's `chain`, or null.
   * While the database is unreachable the outcome is kept and written again, with back-off,
   * for as long as the delivery's lease lasts: the call is not repeated and its log row is not
   * lost. After that the lease has run out and the delivery is handed back (sent again).
   */
  async record(outcome: Outcome): Promise<ClaimedDelivery | null> {
    const deadline = Date.now() + this.config.dispatch.leaseMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.group.submit(outcome);
      } catch (error) {
        const delay = Math.min(250 * 2 ** attempt, 5000);
        if (this.closed || !isDatabaseUnavailable(error) || Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.close();
  }

  private async write(outcomes: Outcome[]): Promise<(ClaimedDelivery | null)[]> {
    const now = Date.now();
    const leaseUntil = now + this.config.dispatch.leaseMs;
    const updates = new Map<string, DeliveryUpdate[]>();
    const chains = new Map<string, ClaimedDelivery[]>();
    for (const outcome of outcomes) {
      const list = updates.get(outcome.owner);
      if (list) list.push(outcome.update);
      else updates.set(outcome.owner, [outcome.update]);
      if (outcome.chain) chains.set(outcome.owner, [...(chains.get(outcome.owner) ?? []), outcome.chain]);
    }
    const statements = [...updates].flatMap(([owner, list]) => this.queue.completion(owner, list, now, this.sql.mysql ? 'all' : 'one'));
    // Handler rows are updated in id order, so two writes in progress never wait on each other in a cycle.
    const streaks = [...outcomes].sort((a, b) => (a.streak?.handlerId ?? 0) - (b.streak?.handlerId ?? 0)).flatMap((outcome) => {
      const streak = outcome.streak;
      if (!streak) return [];
      return streak.failingSince === null
        ? [{ sql: END_STREAK, params: [streak.handlerId] }]
        : [{ sql: START_STREAK, params: [streak.failingSince, streak.handlerId] }];
    });

    let claimed: ClaimedDelivery[] = [];
    if (this.sql.mysql) {
      claimed = await this.transactionMysql(async (session) => {
        await session.write(LOG_INSERT + placeholders(outcomes.length, LOG_COLUMNS.length), outcomes.flatMap((outcome) => logValues(outcome.log)));
        for (const statement of [...statements, ...streaks]) await session.write(statement.sql, statement.params);
        const next: ClaimedDelivery[] = [];
        for (const [owner, finished] of chains) next.push(...(await this.queue.successorsMysql(session, owner, finished, now, leaseUntil)));
        return next;
      });
    } else {
      const insert = this.sql.statement(LOG_INSERT + placeholders(1, LOG_COLUMNS.length));
      claimed = await this.sql.transactionSqlite(() => {
        for (const outcome of outcomes) insert.run(...logValues(outcome.log));
        for (const statement of [...statements, ...streaks]) this.sql.statement(statement.sql).run(...statement.params);
        return [...chains].flatMap(([owner, finished]) => this.queue.successorsSqlite(owner, finished, now, leaseUntil));
      });
    }
    const byEvent = new Map(claimed.map((delivery) => [delivery.eventId, delivery]));
    return outcomes.map((outcome) => {
      if (!outcome.chain) return null;
      const next = byEvent.get(outcome.chain.eventId) ?? null;
      byEvent.delete(outcome.chain.eventId);
      return next;
    });
  }

  private async transactionMysql<T>(work: (session: MysqlSession) => Promise<T>): Promise<T> {
    const connection = this.idle.pop() ?? (await this.sql.dedicatedMysql(['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED']));
    let broken = false;
    try {
      await connection.query('START TRANSACTION');
      const result = await work(connection);
      await connection.query('COMMIT');
      return result;
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      // A broken connection is replaced; after an ordinary error (a bad row) it stays usable.
      broken = Boolean((error as { fatal?: boolean }).fatal);
      throw error;
    } finally {
      if (broken) connection.destroy();
      else if (this.closed) connection.close();
      else this.idle.push(connection);
    }
  }
}
