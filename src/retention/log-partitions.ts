import type { LogPartition } from '../execution-logs/execution-log-partitions.js';

export const DAY_MS = 86_400_000;

/** Days after today that always have a partition of their own, so the MAXVALUE partition stays empty even if retention fails for a week. */
export const PARTITION_DAYS_AHEAD = 7;

/** What retention does to the partitions of `execution_logs` (MySQL/MariaDB) in one run. */
export interface PartitionPlan {
  /** Day partitions to split off the MAXVALUE partition, oldest first. */
  add: { name: string; lessThan: number }[];
  /** Partitions whose every row is older than the cutoff. */
  drop: LogPartition[];
  /**
   * Rows created before this are deleted in batches (a cheap look when there are none): those
   * of a partition that is not a single day (`p_history`, the rows written before the table was
   * partitioned) until the cutoff, and any row older than its day in the oldest day partition
   * (the oldest partition takes whatever is below its bound).
   */
  deleteBefore: number;
}

/** `p20261130`: the partition of the UTC day that starts at `dayStart`. */
export function dayPartitionName(dayStart: number): string {
  return `p${new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '')}`;
}

function startOfDay(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

/** The UTC day a partition holds (its name and bound agree), or null when it is not a day partition. */
function dayOf(partition: LogPartition): number | null {
  const match = /^p(\d{4})(\d{2})(\d{2})$/.exec(partition.name);
  if (!match || partition.lessThan === null) return null;
  const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return start + DAY_MS === partition.lessThan ? start : null;
}

/**
 * The plan for `partitions` (as the server lists them, oldest first; a null bound is MAXVALUE)
 * at `now`, rows before `cutoff` having expired:
 * - add a partition for every day from the last bound (or today) through PARTITION_DAYS_AHEAD
 *   days after today, none for a day already past the cutoff (its rows would be dropped at once);
 * - drop every partition whose bound is at or before the cutoff: all its rows have expired. A
 *   day partition that holds the cutoff stays until the end of its day has expired too, so
 *   rows are kept up to one day longer than the retention period, never shorter;
 * - delete in batches the rows older than the cutoff in a partition that spans more than one
 *   day (see `deleteBefore`).
 */
export function planLogPartitions(partitions: readonly LogPartition[], cutoff: number, now: number): PartitionPlan {
  const bounds = partitions.map((partition) => partition.lessThan).filter((bound): bound is number => bound !== null);
  const last = bounds.length > 0 ? Math.max(...bounds) : null;
  const through = startOfDay(now) + (PARTITION_DAYS_AHEAD + 1) * DAY_MS;
  const add: PartitionPlan['add'] = [];
  let next = Math.max(last === null ? startOfDay(now) + DAY_MS : startOfDay(last) + DAY_MS, startOfDay(cutoff) + DAY_MS);
  for (; next <= through; next += DAY_MS) add.push({ name: dayPartitionName(next - DAY_MS), lessThan: next });
  const drop = partitions.filter((partition) => partition.lessThan !== null && partition.lessThan <= cutoff);
  // The oldest partition once the plan has run: the first one kept, else the first one added.
  const kept = partitions.filter((partition) => !drop.includes(partition) && partition.lessThan !== null);
  const oldest = kept[0] ?? (add[0] ? { ...add[0], rows: 0 } : undefined);
  const oldestDay = oldest ? dayOf(oldest) : null;
  return { add, drop, deleteBefore: oldestDay === null ? cutoff : Math.min(cutoff, oldestDay) };
}
