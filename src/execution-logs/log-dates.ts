import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DirectSql } from '../database/direct-sql.js';
import { firstIdFrom, IdOrder, lastIdTo, lateWriteMs, Split, splitAt, splitBetween, tableIdOrder, TimedRow } from '../database/ids-by-time.js';
import { ExecutionLogPartitions, idRanges, LogPartition } from './execution-log-partitions.js';
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
 * (src/database/ids-by-time.ts), with no index on created_at; on MySQL/MariaDB first among the
 * day partitions (splitAcross). Part of the execution-logs module, which owns the table.
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
   * when there is none).
   */
  private async idBound(side: 'from' | 'to', moment: number): Promise<number> {
    const isBefore = side === 'from' ? (at: number) => at < moment : (at: number) => at <= moment;
    const rows = tableIdOrder((sql, params) => this.sql.rows(sql, params), 'execution_logs', 'created_at');
    const partitions = await this.partitions.partitions();
    const split = partitions ? await splitAcross(rows, partitions, moment, isBefore) : await splitAt(rows, moment, isBefore);
    return side === 'from' ? firstIdFrom(split) : lastIdTo(split);
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

/**
 * The split at `moment` of the table partitioned by day ranges of ids (MySQL/MariaDB): the ids
 * are one order, written in turn, but each day's start at its own first id, leaving a gap of
 * unused ids after every day that a search by halving would walk into. So the partition the
 * split falls in is found first, by the first row at or above each partition's lower bound (a
 * halving search over the partitions, a few index dives), then the split among that
 * partition's rows, whose ids follow one another.
 */
async function splitAcross(rows: IdOrder, partitions: readonly LogPartition[], moment: number, isBefore: (at: number) => boolean): Promise<Split> {
  const lowers = idRanges(partitions).map((range) => range.from);
  const firsts = new Map<number, TimedRow | undefined>();
  const firstFrom = async (index: number): Promise<TimedRow | undefined> => {
    if (!firsts.has(index)) firsts.set(index, await rows.atOrAbove(lowers[index]!));
    return firsts.get(index);
  };
  // The last partition whose first row is dated before the moment: `low` is, `high` is not.
  let low = -1;
  let high = lowers.length;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    const first = await firstFrom(middle);
    if (first !== undefined && isBefore(first.at)) low = middle;
    else high = middle;
  }
  if (low < 0) return { before: null, after: (await firstFrom(0)) ?? null };
  // The next partition's first row is not dated before, so the one found holds a row of its own.
  const first = (await firstFrom(low))!;
  const upper = lowers[low + 1];
  const last = (await rows.last(upper))!;
  if (isBefore(last.at)) return { before: last, after: upper === undefined ? null : ((await firstFrom(low + 1)) ?? null) };
  return splitBetween(rows, moment, isBefore, first, last);
}
