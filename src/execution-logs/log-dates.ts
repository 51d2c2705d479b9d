import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DirectSql, Row } from '../database/direct-sql.js';
import { firstIdFrom, lastIdTo, lateWriteMs, Split, splitAt, tableIdOrder } from '../database/ids-by-time.js';
import { num } from '../database/sql.js';
import { ExecutionLogPartitions, partitionName } from './execution-log-partitions.js';
import type { LogFilters } from './log-search.js';

/** Ids from `low` to `high`, both included. */
export interface IdRange {
  low: number;
  high: number;
}

/** No upper bound on the ids of a range. */
export const NO_ID_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Where a date falls among the ids of `execution_logs`: a date range's ids for the lists
 * (ExecutionLogsService) and where retention's walk ends. Found along the primary key
 * (src/database/ids-by-time.ts), with no index on created_at; on MySQL/MariaDB within the day
 * partition that holds the date. Part of the execution-logs module, which owns the table.
 */
@Injectable()
export class LogDates {
  /** How late after its created_at a row may be written, at most (src/database/ids-by-time.ts lateWriteMs). */
  private readonly lateWriteMs: number;

  constructor(
    private readonly sql: DirectSql,
    private readonly partitions: ExecutionLogPartitions,
    config: AppConfig,
  ) {
    this.lateWriteMs = lateWriteMs(config);
  }

  /**
   * The ids of the rows a date range can hold, found along the primary key (splitAt): every row
   * created at or after `from` has a larger id than a row created before `from - lateWriteMs`,
   * and every row created at or before `to` a smaller id than a row created after
   * `to + lateWriteMs`; so a range far in the past is read from its own end, never by walking
   * newer rows first. The rows of the margins are tested by their created_at.
   */
  async idsDated({ from, to }: Pick<LogFilters, 'from' | 'to'>): Promise<IdRange> {
    const late = this.lateWriteMs;
    const low = from === undefined ? 1 : await this.idBound('from', from - late);
    const high = to === undefined ? NO_ID_LIMIT : await this.idBound('to', to + late);
    return { low, high };
  }

  /**
   * `from`: the lowest id a row created at or after `moment + lateWriteMs` can have (firstIdFrom);
   * `to`: the highest id a row created at or before `moment - lateWriteMs` can have (lastIdTo, 0
   * when there is none). On the table partitioned by day (MySQL/MariaDB) the search runs within
   * the partition that holds the moment, each read one index dive; every row of an earlier
   * partition is dated before the moment and of a later one after it, so the bound also takes in
   * the first id of the later partitions (`from`) or the last of the earlier ones (`to`), and
   * needs no order of ids across partitions (rows written before the table was partitioned sit
   * in p_history with ids of their own time).
   */
  private async idBound(side: 'from' | 'to', moment: number): Promise<number> {
    const isBefore = side === 'from' ? (at: number) => at < moment : (at: number) => at <= moment;
    const bound = (split: Split): number => (side === 'from' ? firstIdFrom(split) : lastIdTo(split));
    // SQLite (no partitions), or a moment past every bound: the whole table is one order.
    const partitions = await this.partitions.partitions();
    const index = partitions?.findIndex((partition) => partition.lessThan === null || partition.lessThan > moment) ?? -1;
    if (index < 0) return bound(await splitAt(tableIdOrder((sql, params) => this.sql.rows(sql, params), 'execution_logs', 'created_at'), moment, isBefore));
    return this.sql.onPooledConnection(async (session) => {
      const read = (sql: string, params: unknown[]): Promise<Row[]> => session.query<Row[]>(sql, params);
      const partition = partitions![index]!;
      const within = bound(await splitAt(tableIdOrder(read, `execution_logs PARTITION (${partitionName(partition.name)})`, 'created_at'), moment, isBefore));
      if (side === 'from') {
        if (partition.lessThan === null) return within;
        const [later] = await read('SELECT id FROM execution_logs FORCE INDEX (PRIMARY) WHERE created_at >= ? ORDER BY id LIMIT 1', [partition.lessThan]);
        return later === undefined ? within : Math.min(within, num(later.id));
      }
      const earlier = index > 0 ? partitions![index - 1]!.lessThan : null;
      if (earlier === null) return within;
      const [last] = await read('SELECT id FROM execution_logs FORCE INDEX (PRIMARY) WHERE created_at < ? ORDER BY id DESC LIMIT 1', [earlier]);
      return last === undefined ? within : Math.max(within, num(last.id));
    });
  }

  /**
   * Where retention's walk by id ends: the highest id a row created before `cutoff` can have
   * (idBound), or null when no row was created that early. The walk tests created_at, so the
   * rows of the margin stay.
   */
  async walkEndBefore(cutoff: number): Promise<number | null> {
    const end = await this.idBound('to', cutoff + this.lateWriteMs);
    return end === 0 ? null : end;
  }
}
