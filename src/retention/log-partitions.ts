import { DAY_MS, DatedPartition, IDS_PER_DAY } from '../execution-logs/execution-log-partitions.js';

/** Days after today that always have a partition of their own, so the MAXVALUE partition stays empty even if retention fails for a week. */
export const PARTITION_DAYS_AHEAD = 7;

/** What retention does to the partitions of `execution_logs` (MySQL/MariaDB) in one run. */
export interface PartitionPlan {
  /** Day partitions to split off the MAXVALUE partition, oldest first; `lessThan` is the first id of the next day. */
  add: { name: string; lessThan: number }[];
  /** Partitions whose every row is older than the cutoff (or that are empty and in the past). */
  drop: DatedPartition[];
  /**
   * Rows with ids below this that are older than the cutoff are deleted in batches: those of a
   * partition that is not a day (`p_history`, the rows written before the table was
   * partitioned by id), which is dropped whole only once all of it has expired. 0: none.
   */
  deleteBelowId: number;
}

/** `p20261130`: the partition of the UTC day that starts at `dayStart`. */
export function dayPartitionName(dayStart: number): string {
  return `p${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function isDayPartition(partition: DatedPartition): boolean {
  return /^p\d{8}$/.test(partition.name);
}

/**
 * The plan for `partitions` (as the server lists them, oldest first, each with the date of its
 * newest row; a null bound is MAXVALUE) at `now`, rows created before `cutoff` having expired
 * and rows being written at most `lateMs` after their created_at (src/database/ids-by-time.ts):
 * - add a partition for every day from the last bound (or today) through PARTITION_DAYS_AHEAD
 *   days after today, none for a day already past the cutoff;
 * - drop every bounded partition whose newest row was created before `cutoff - lateMs`: every
 *   other row of it was written before that one, so before the cutoff. Its rows are kept at
 *   least the retention period and at most about a day longer (a partition holds the rows of
 *   its day, from the moment its ids were started: ExecutionLogPartitions.startDay). An empty
 *   partition goes once its ids are those of a day before the cutoff's, which no instance
 *   hands out any more;
 * - delete in batches the expired rows of a partition that is not a day (see `deleteBelowId`).
 */
export function planLogPartitions(partitions: readonly DatedPartition[], cutoff: number, now: number, lateMs: number): PartitionPlan {
  const bounds = partitions.map((partition) => partition.lessThan).filter((bound): bound is number => bound !== null);
  const today = Math.floor(now / DAY_MS);
  // The day whose partition comes next: the one whose ids the last bound falls in (or starts).
  const next = bounds.length > 0 ? Math.floor(Math.max(...bounds) / IDS_PER_DAY) : today;
  const add: PartitionPlan['add'] = [];
  for (let day = Math.max(next, Math.floor(cutoff / DAY_MS)); day <= today + PARTITION_DAYS_AHEAD; day++) {
    add.push({ name: dayPartitionName(day * DAY_MS), lessThan: (day + 1) * IDS_PER_DAY });
  }
  const pastIds = Math.floor(cutoff / DAY_MS) * IDS_PER_DAY;
  const drop = partitions.filter(
    (partition) => partition.lessThan !== null && (partition.newestAt === null ? partition.lessThan <= pastIds : partition.newestAt < cutoff - lateMs),
  );
  const kept = partitions.filter((partition) => partition.lessThan !== null && !drop.includes(partition) && !isDayPartition(partition));
  return { add, drop, deleteBelowId: Math.max(0, ...kept.map((partition) => partition.lessThan!)) };
}
