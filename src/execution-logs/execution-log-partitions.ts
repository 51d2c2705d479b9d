import { Injectable } from '@nestjs/common';
import { DirectSql } from '../database/direct-sql.js';
import { num } from '../database/sql.js';

/** A partition of `execution_logs` (MySQL/MariaDB): rows with `created_at` below `lessThan` (null: MAXVALUE) and not in an earlier one. */
export interface LogPartition {
  name: string;
  lessThan: number | null;
  /** The server's estimate (information_schema.PARTITIONS.TABLE_ROWS). */
  rows: number;
}

/** How long a partition change waits for the table's metadata lock. */
const PARTITION_LOCK_WAIT_SECONDS = 2;

/**
 * Retention's steps on the day partitions of `execution_logs` (MySQL/MariaDB, see the
 * ExecutionLogsByDay migration): list them, prepare the coming days, drop expired days.
 * src/retention/log-partitions.ts plans what a run does with them. Part of the execution-logs
 * module, which owns the table (ExecutionLogsService holds its rows' statements); kept apart
 * because these change the table's layout, never its rows.
 */
@Injectable()
export class ExecutionLogPartitions {
  constructor(private readonly sql: DirectSql) {}

  /**
   * The partitions of the table (MySQL/MariaDB, see the ExecutionLogsByDay migration), oldest
   * first, with the server's estimate of their rows; null when it has none (always on SQLite).
   */
  async partitions(): Promise<LogPartition[] | null> {
    if (!this.sql.mysql) return null;
    const rows = await this.sql.queryMysql(
      `SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound, TABLE_ROWS AS n FROM information_schema.PARTITIONS
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND PARTITION_NAME IS NOT NULL
        ORDER BY PARTITION_ORDINAL_POSITION`,
    );
    if (rows.length === 0) return null;
    return rows.map((row) => ({ name: String(row.name), lessThan: row.bound === 'MAXVALUE' ? null : num(row.bound), rows: num(row.n ?? 0) }));
  }

  /**
   * Adds day partitions (oldest first, after every bounded one): split off the MAXVALUE
   * partition `future`, which is empty while retention runs, so no row moves; with no MAXVALUE
   * partition, they are appended together with a new one, `p_future`.
   */
  async addPartitions(days: readonly { name: string; lessThan: number }[], future: string | null): Promise<void> {
    if (days.length === 0) return;
    const parts = days.map((day) => `PARTITION ${partitionName(day.name)} VALUES LESS THAN (${Math.trunc(day.lessThan)})`);
    if (future === null) {
      await this.alterPartitions(`ALTER TABLE execution_logs ADD PARTITION (${parts.join(', ')}, PARTITION p_future VALUES LESS THAN MAXVALUE)`);
    } else {
      const name = partitionName(future);
      await this.alterPartitions(`ALTER TABLE execution_logs REORGANIZE PARTITION ${name} INTO (${parts.join(', ')}, PARTITION ${name} VALUES LESS THAN MAXVALUE)`);
    }
  }

  /** Drops whole partitions: their rows go at once, with no row-by-row delete and no lock on the others' rows. */
  async dropPartitions(names: readonly string[]): Promise<void> {
    if (names.length > 0) await this.alterPartitions(`ALTER TABLE execution_logs DROP PARTITION ${names.map(partitionName).join(', ')}`);
  }

  /**
   * A partition change waits at most PARTITION_LOCK_WAIT_SECONDS for the table's metadata lock
   * (held by statements in progress): while it waits, every later statement on the table waits
   * behind it, inserts too. Past that it fails (errno 1205) and retention tries again later.
   */
  private alterPartitions(statement: string): Promise<void> {
    return this.sql.onPooledConnection(async (session) => {
      await session.query(`SET SESSION lock_wait_timeout = ${PARTITION_LOCK_WAIT_SECONDS}`);
      try {
        await session.query(statement);
      } finally {
        await session.query('SET SESSION lock_wait_timeout = DEFAULT');
      }
    });
  }
}

/** A partition name as SQL: only names of letters, digits and underscores are ever made or read. */
export function partitionName(name: string): string {
  if (!/^\w{1,64}$/.test(name)) throw new Error(`Unexpected partition name ${JSON.stringify(name)}`);
  return `\`${name}\``;
}
