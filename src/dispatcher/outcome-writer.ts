import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { GroupCommit } from '../database/group-commit.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { ExecutionLogRecord } from '../execution-logs/execution-log.js';
import { DeliveryQueue, DeliveryUpdate } from './delivery-queue.js';

/** Everything one finished call changes. */
export interface Outcome {
  owner: string;
  log: ExecutionLogRecord;
  update: DeliveryUpdate;
  /** Start (a timestamp) or end (null) a handler's failure streak; undefined leaves it alone. */
  streak?: { handlerId: number; failingSince: number | null };
}

/**
 * Writes finished calls: the execution log rows, the deliveries' next state and the
 * handlers' failure streaks, for every call that finished meanwhile, in one transaction.
 */
@Injectable()
export class OutcomeWriter {
  private readonly group = new GroupCommit<Outcome, void>((outcomes) => this.write(outcomes));

  constructor(
    private readonly dataSource: DataSource,
    private readonly queue: DeliveryQueue,
    private readonly logs: ExecutionLogsService,
    private readonly config: AppConfig,
  ) {}

  /**
   * While the database is unreachable the outcome is kept and written again, with back-off,
   * for as long as the delivery's lease lasts: the call is not repeated and its log row is not
   * lost. After that the lease has run out and the delivery is handed back (sent again).
   */
  async record(outcome: Outcome): Promise<void> {
    const deadline = Date.now() + this.config.dispatch.leaseMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.group.submit(outcome);
      } catch (error) {
        const delay = Math.min(250 * 2 ** attempt, 5000);
        if (!isDatabaseUnavailable(error) || Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  private async write(outcomes: Outcome[]): Promise<void[]> {
    const now = Date.now();
    await this.dataSource.transaction(async (manager) => {
      await this.logs.insert(
        outcomes.map((outcome) => outcome.log),
        manager,
      );
      const owners = [...new Set(outcomes.map((outcome) => outcome.owner))];
      for (const owner of owners) {
        const updates = outcomes.filter((outcome) => outcome.owner === owner).map((outcome) => outcome.update);
        await this.queue.complete(manager, owner, updates, now);
      }
      for (const outcome of outcomes) {
        const streak = outcome.streak;
        if (streak?.failingSince === null) {
          await manager.query('UPDATE handlers SET failing_since = NULL WHERE id = ?', [streak.handlerId]);
        } else if (streak) {
          await manager.query('UPDATE handlers SET failing_since = ? WHERE id = ? AND failing_since IS NULL', [
            streak.failingSince,
            streak.handlerId,
          ]);
        }
      }
    });
    return outcomes.map(() => undefined);
  }
}
