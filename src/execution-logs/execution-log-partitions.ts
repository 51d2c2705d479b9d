import { Injectable } from '@nestjs/common';
import { DirectSql } from '../database/direct-sql.js';
import { num } from '../database/sql.js';

/** A partition of `execution_logs` (MySQL/MariaDB): rows with an id below `lessThan` (null: MAXVALUE) and not in an earlier one. */
export interface LogPartition {
  name: string;
  lessThan: number | null;
  /** The server's estimate (information_schema.PARTITIONS.TABLE_ROWS). */
  rows: number;
}

/**
 * Each partition's range of ids, in the partitions' order: from the bound of the one before (0
 * for the first) to below its own (MAXVALUE: the largest safe integer).
 */
export function idRanges(partitions: readonly LogPartition[]): { from: number; below: number }[] {
  return partitions.map((partition, i) => ({
    from: i === 0 ? 0 : (partitions[i - 1]!.lessThan ?? Number.MAX_SAFE_INTEGER),
    below: partition.lessThan ?? Number.MAX_SAFE_INTEGER,
  }));
}

/** A partition with the created_at of its newest row (the one with the highest id), null when it has none. */
export interface DatedPartition extends LogPartition {
  newestAt: number | null;
}

export const DAY_MS = 86_400_000;

/**
 * The ids of a UTC day begin at its number (days since 1970-01-01) times this: the table's
 * AUTO_INCREMENT is set there when the day begins (startDay), and the day's partition holds
 * the range (1766100000000-execution-logs-by-id.ts). Room for 115,000 rows a second all day;
 * the ids of the year 4000 are still exact in a JavaScript number.
 */
export const IDS_PER_DAY = 10_000_000_000;

/** The first id of the UTC day that holds `at` (epoch ms). */
export function firstIdOfDay(at: number): number {
  return Math.floor(at / DAY_MS) * IDS_PER_DAY;
}

/** How long a partition change waits for the table's metadata lock. */
const PARTITION_LOCK_WAIT_SECONDS = 2;

/**
 * The day partitions of `execution_logs` (MySQL/MariaDB, see the ExecutionLogsById migration):
 * list them with their newest rows, start a day's ids, prepare the coming days, drop expired
 * days. src/retention/log-partitions.ts plans what a retention run does with them; LogDates
 * (./log-dates.ts) reads their bounds. Part of the execution-logs module, which owns the table
 * (ExecutionLogsService holds its rows' statements); kept apart because these change the
 * table's layout, never its rows.
 */
@Injectable()
export class ExecutionLogPartitions {
  constructor(private readonly sql: DirectSql) {}

  /**
   * The partitions of the table (MySQL/MariaDB, see the ExecutionLogsById migration), oldest
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
   * Each partition with the created_at of its newest row: the primary key's end of each
   * partition's id range, an index dive each, all in one statement.
   */
  async withNewestRows(partitions: readonly LogPartition[]): Promise<DatedPartition[]> {
    if (partitions.length === 0) return [];
    const ranges = idRanges(partitions);
    const newest = ranges.map((_range, i) => `(SELECT created_at FROM execution_logs WHERE id >= ? AND id < ? ORDER BY id DESC LIMIT 1) AS n${i}`);
    const [row] = await this.sql.queryMysql(`SELECT ${newest.join(', ')}`, ranges.flatMap(({ from, below }) => [from, below]));
    return partitions.map((partition, i) => {
      const at = row?.[`n${i}`];
      return { ...partition, newestAt: at === null || at === undefined ? null : num(at) };
    });
  }

  /**
   * The lowest id of the `count` ids at or below `high` that are in use or were (ids are handed
   * out in order; only removed rows leave holes), or null when `low` is reached first. On
   * MySQL/MariaDB each day's ids start at its own first id: the gap after a day's last id is
   * skipped. The newest day's run of ids is read first (its two ends, an index dive each); when
   * it holds too few, the ends of every older day's run in one more statement. On SQLite ids
   * follow one another.
   */
  async lowestOfIds(high: number, count: number, low: number): Promise<number | null> {
    const partitions = await this.partitions();
    if (!partitions) return high - count + 1 > low ? high - count + 1 : null;
    // Each partition's share of [low, high], the newest first.
    const ranges = idRanges(partitions)
      .map(({ from, below }) => ({ from: Math.max(from, low), to: Math.min(below - 1, high) }))
      .filter(({ from, to }) => from <= to)
      .reverse();
    let left = count;
    for (const batch of [ranges.slice(0, 1), ranges.slice(1)]) {
      if (batch.length === 0) continue;
      const ends = batch.map((_, i) => `(SELECT MIN(id) FROM execution_logs WHERE id >= ? AND id <= ?) AS f${i}, (SELECT MAX(id) FROM execution_logs WHERE id >= ? AND id <= ?) AS l${i}`);
      const [row] = await this.sql.queryMysql(`SELECT ${ends.join(', ')}`, batch.flatMap(({ from, to }) => [from, to, from, to]));
      for (let i = 0; i < batch.length; i++) {
        if (row?.[`f${i}`] === null || row?.[`f${i}`] === undefined) continue;
        const first = num(row[`f${i}`]);
        const last = num(row[`l${i}`]);
        if (last - first + 1 >= left) return last - left + 1 > low ? last - left + 1 : null;
        left -= last - first + 1;
      }
    }
    return null;
  }

  /**
   * The ids of the day that holds `now` start at its first id (IDS_PER_DAY), so its rows go to
   * its partition: the table's AUTO_INCREMENT is moved there unless ids have reached it. Every
   * instance does it when a UTC day begins, at start and on every retention run; a row written
   * between midnight and this goes to the day before's partition, which is only dropped once
   * its newest row has expired (src/retention/log-partitions.ts). Changing AUTO_INCREMENT
   * changes no row (ALGORITHM=INPLACE: the server refuses rather than copy the table); InnoDB
   * never sets it below the highest id plus one. Answers whether it moved.
   */
  async startDay(now: number): Promise<boolean> {
    if (!this.sql.mysql) return false;
    const first = firstIdOfDay(now);
    const [row] = await this.sql.queryMysql('SELECT MAX(id) AS id FROM execution_logs');
    if (num(row?.id ?? 0) >= first) return false;
    await this.alterPartitions(`ALTER TABLE execution_logs AUTO_INCREMENT = ${first}, ALGORITHM = INPLACE, LOCK = NONE`);
    return true;
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
   * A layout change waits at most PARTITION_LOCK_WAIT_SECONDS for the table's metadata lock
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
