import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LogPartition } from '../../src/execution-logs/execution-log-partitions.js';
import { DAY_MS, dayPartitionName, PARTITION_DAYS_AHEAD, planLogPartitions } from '../../src/retention/log-partitions.js';

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
/** Day partitions for each ISO date, as the server lists them. */
const days = (...isos: string[]): LogPartition[] => isos.map((iso) => ({ name: dayPartitionName(day(iso)), lessThan: day(iso) + DAY_MS, rows: 10 }));
const future: LogPartition = { name: 'p_future', lessThan: null, rows: 0 };
const names = (list: readonly { name: string }[]) => list.map((partition) => partition.name);

describe('the partition plan of execution_logs', () => {
  it('names a partition after its UTC day', () => {
    assert.equal(dayPartitionName(day('2026-11-30')), 'p20261130');
    assert.equal(dayPartitionName(day('2027-01-05')), 'p20270105');
  });

  it('adds the days through a week ahead, drops the days wholly older than the cutoff, keeps the day that holds it', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const cutoff = now - 30 * DAY_MS; // 2026-10-31T10:00Z
    const partitions = [...days('2026-10-29', '2026-10-30', '2026-10-31', '2026-11-01', '2026-11-30', '2026-12-01'), future];
    const plan = planLogPartitions(partitions, cutoff, now);
    assert.deepEqual(names(plan.drop), ['p20261029', 'p20261030'], 'the day of the cutoff stays until its end has expired');
    assert.deepEqual(names(plan.add), ['p20261202', 'p20261203', 'p20261204', 'p20261205', 'p20261206', 'p20261207']);
    assert.equal(plan.add.length + 1, PARTITION_DAYS_AHEAD, 'today + 1 exists; up to today + 7');
    assert.deepEqual(
      plan.add.map((partition) => partition.lessThan),
      plan.add.map((partition, i) => day('2026-12-03') + i * DAY_MS),
      'each bound is the end of its day',
    );
    assert.equal(plan.deleteBefore, day('2026-10-31'), 'row by row: only what is older than the oldest day, none as a rule');
  });

  it('adds nothing when the week ahead is there, and drops nothing when nothing has expired', () => {
    const now = Date.parse('2026-11-30T23:59:59Z');
    const partitions = [...days('2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07'), future];
    const plan = planLogPartitions(partitions, now - 30 * DAY_MS, now);
    assert.deepEqual([plan.add, plan.drop, plan.deleteBefore], [[], [], now - 30 * DAY_MS], 'the oldest day holds the cutoff');
  });

  it('deletes row by row in a partition that spans more than a day (the rows from before partitioning), until it expires whole', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const history: LogPartition = { name: 'p_history', lessThan: day('2026-11-20'), rows: 5000 };
    const young = planLogPartitions([history, ...days('2026-11-20', '2026-11-30'), future], now - 30 * DAY_MS, now);
    assert.deepEqual([names(young.drop), young.deleteBefore], [[], now - 30 * DAY_MS]);
    const expired = planLogPartitions([history, ...days('2026-11-20', '2026-11-30'), future], day('2026-11-20') + 1, now);
    assert.deepEqual([names(expired.drop), expired.deleteBefore], [['p_history'], day('2026-11-20')]);
  });

  it('after a long stop, adds the missing days from the last one, none older than the cutoff', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const plan = planLogPartitions([...days('2026-11-20'), future], now - 30 * DAY_MS, now);
    assert.equal(plan.add[0]!.name, 'p20261121');
    assert.equal(plan.add[plan.add.length - 1]!.name, 'p20261207');
    const longStop = planLogPartitions([...days('2026-09-01'), future], now - 30 * DAY_MS, now);
    assert.deepEqual(names(longStop.drop), ['p20260901']);
    assert.equal(longStop.add[0]!.name, 'p20261031', 'the day of the cutoff onwards');
    assert.equal(longStop.deleteBefore, day('2026-10-31'));
  });

  it('drops every day when all have expired, and prepares the days from the cutoff on', () => {
    const now = Date.parse('2036-11-30T10:00:00Z');
    const history: LogPartition = { name: 'p_history', lessThan: day('2026-11-30'), rows: 5 };
    const plan = planLogPartitions([history, ...days('2026-11-30', '2026-12-01'), future], now - 30 * DAY_MS, now);
    assert.deepEqual(names(plan.drop), ['p_history', 'p20261130', 'p20261201']);
    assert.equal(plan.add[0]!.name, 'p20361031');
    assert.equal(plan.deleteBefore, day('2036-10-31'));
  });

  it('adds a MAXVALUE-less table its days too, and deletes rows of a table whose only partition is MAXVALUE', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const plan = planLogPartitions(days('2026-11-30'), now - 30 * DAY_MS, now);
    assert.equal(plan.add.length, PARTITION_DAYS_AHEAD);
    // Not a layout retention makes, but one it must not break on.
    const only = planLogPartitions([{ name: 'p0', lessThan: null, rows: 9 }], now - 30 * DAY_MS, now);
    assert.equal(only.add[0]!.name, 'p20261130');
    assert.equal(only.drop.length, 0);
    assert.equal(only.deleteBefore, now - 30 * DAY_MS, 'what the MAXVALUE partition held goes row by row');
  });
});
