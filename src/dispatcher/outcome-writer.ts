import { Injectable } from '@nestjs/common';
import { DirectSql } from '../database/direct-sql.js';
import { GroupCommit } from '../database/group-commit.js';
import { placeholders } from '../database/sql.js';
import { ExecutionLogRecord, LOG_COLUMNS, logValues } from '../execution-logs/execution-log.js';
import { DeliveryQueue, DeliveryUpdate } from './delivery-queue.js';

/** Everything one finished call changes. */
export interface Outcome {
  owner: string;
  log: ExecutionLogRecord;
  update: DeliveryUpdate;
  /** Start (a timestamp) or end (null) a handler's failure streak; undefined leaves it alone. */
  streak?: { handlerId: number; failingSince: number | null };
}

const LOG_INSERT = `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES `;
const END_STREAK = 'UPDATE handlers SET failing_since = NULL WHERE id = ?';
const START_STREAK = 'UPDATE handlers SET failing_since = ? WHERE id = ? AND failing_since IS NULL';

/**
 * Writes finished calls: the execution log rows, the deliveries' next state and the
 * handlers' failure streaks, for every call that finished meanwhile, in one transaction.
 */
@Injectable()
export class OutcomeWriter {
  private readonly group = new GroupCommit<Outcome, void>((outcomes) => this.write(outcomes), 500);

  constructor(
    private readonly sql: DirectSql,
    private readonly queue: DeliveryQueue,
  ) {}

  record(outcome: Outcome): Promise<void> {
    return this.group.submit(outcome);
  }

  private async write(outcomes: Outcome[]): Promise<void[]> {
    const now = Date.now();
    const updates = new Map<string, DeliveryUpdate[]>();
    for (const outcome of outcomes) {
      const list = updates.get(outcome.owner);
      if (list) list.push(outcome.update);
      else updates.set(outcome.owner, [outcome.update]);
    }
    const statements = [...updates].flatMap(([owner, list]) => this.queue.completion(owner, list, now, this.sql.mysql ? 'all' : 'one'));
    const streaks = outcomes.flatMap((outcome) => {
      const streak = outcome.streak;
      if (!streak) return [];
      return streak.failingSince === null
        ? [{ sql: END_STREAK, params: [streak.handlerId] }]
        : [{ sql: START_STREAK, params: [streak.failingSince, streak.handlerId] }];
    });

    if (this.sql.mysql) {
      await this.sql.transactionMysql(async (session) => {
        await session.write(LOG_INSERT + placeholders(outcomes.length, LOG_COLUMNS.length), outcomes.flatMap((outcome) => logValues(outcome.log)));
        for (const statement of [...statements, ...streaks]) await session.write(statement.sql, statement.params);
      });
    } else {
      const insert = this.sql.statement(LOG_INSERT + placeholders(1, LOG_COLUMNS.length));
      await this.sql.transactionSqlite(() => {
        for (const outcome of outcomes) insert.run(...logValues(outcome.log));
        for (const statement of [...statements, ...streaks]) this.sql.statement(statement.sql).run(...statement.params);
      });
    }
    return outcomes.map(() => undefined);
  }
}
