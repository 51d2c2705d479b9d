import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DAY_MS, DatedPartition, firstIdOfDay, idRanges, IDS_PER_DAY } from '../../src/execution-logs/execution-log-partitions.js';
import { dayPartitionName, PARTITION_DAYS_AHEAD, planLogPartitions } from '../../src/retention/log-partitions.js';

const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`);
const LATE = 5 * 60_000;
/** Day partitions for each ISO date, as the server lists them: the ids of the day, its newest row written an hour before its end. */
const days = (...isos: string[]): DatedPartition[] =>
  isos.map((iso) => ({ name: dayPartitionName(day(iso)), lessThan: firstIdOfDay(day(iso) + DAY_MS), rows: 10, newestAt: day(iso) + DAY_MS - 3_600_000 }));
const future: DatedPartition = { name: 'p_future', lessThan: null, rows: 0, newestAt: null };
const names = (list: readonly { name: string }[]) => list.map((partition) => partition.name);

describe('the partition plan of execution_logs', () => {
  it('names a partition after its UTC day, whose ids start at the day number times IDS_PER_DAY', () => {
    assert.equal(dayPartitionName(day('2026-11-30')), 'p20261130');
    assert.equal(dayPartitionName(day('2027-01-05')), 'p20270105');
    assert.equal(firstIdOfDay(day('2026-11-30') + 12 * 3_600_000), (day('2026-11-30') / DAY_MS) * IDS_PER_DAY);
    assert.ok(Number.isSafeInteger(firstIdOfDay(Date.parse('3999-12-31T23:59:59Z')) + IDS_PER_DAY - 1), 'ids stay exact numbers for a long time');
  });

  it('adds the days through a week ahead, drops the days whose newest row has expired, keeps the day that holds the cutoff', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const cutoff = now - 30 * DAY_MS; // 2026-10-31T10:00Z
    const partitions = [...days('2026-10-29', '2026-10-30', '2026-10-31', '2026-11-01', '2026-11-30', '2026-12-01'), future];
    const plan = planLogPartitions(partitions, cutoff, now, LATE);
    assert.deepEqual(names(plan.drop), ['p20261029', 'p20261030'], 'the day of the cutoff stays until its newest row has expired');
    assert.deepEqual(names(plan.add), ['p20261202', 'p20261203', 'p20261204', 'p20261205', 'p20261206', 'p20261207']);
    assert.equal(plan.add.length + 1, PARTITION_DAYS_AHEAD, 'today + 1 exists; up to today + 7');
    assert.deepEqual(
      plan.add.map((partition) => partition.lessThan),
      plan.add.map((_partition, i) => firstIdOfDay(day('2026-12-03') + i * DAY_MS)),
      'each bound is the first id of the next day',
    );
    assert.equal(plan.deleteBelowId, 0, 'no row by row: every partition is a day');
  });

  it('keeps a day whose newest row is younger than the cutoff plus the late-write margin (a row written after midnight, before its day was started)', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const cutoff = now - 30 * DAY_MS;
    const [late] = days('2026-10-30');
    const partitions = [{ ...late!, newestAt: cutoff - LATE }, ...days('2026-11-30'), future];
    assert.deepEqual(names(planLogPartitions(partitions, cutoff, now, LATE).drop), [], 'newest at cutoff - late: an earlier row may be younger');
    assert.deepEqual(names(planLogPartitions([{ ...late!, newestAt: cutoff - LATE - 1 }, future], cutoff, now, LATE).drop), ['p20261030']);
  });

  it('adds nothing when the week ahead is there, and drops nothing when nothing has expired', () => {
    const now = Date.parse('2026-11-30T23:59:59Z');
    const partitions = [...days('2026-11-29', '2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07'), future];
    const plan = planLogPartitions(partitions, now - 30 * DAY_MS, now, LATE);
    assert.deepEqual([plan.add, plan.drop, plan.deleteBelowId], [[], [], 0]);
  });

  it('deletes row by row below a partition that is not a day (the rows from before partitioning), until it expires whole', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const history: DatedPartition = { name: 'p_history', lessThan: firstIdOfDay(day('2026-11-20')), rows: 5000, newestAt: day('2026-11-20') - 1 };
    const young = planLogPartitions([history, ...days('2026-11-20', '2026-11-30'), future], now - 30 * DAY_MS, now, LATE);
    assert.deepEqual([names(young.drop), young.deleteBelowId], [[], firstIdOfDay(day('2026-11-20'))]);
    const expired = planLogPartitions([history, ...days('2026-11-20', '2026-11-30'), future], day('2026-11-20') + LATE, now, LATE);
    assert.deepEqual([names(expired.drop), expired.deleteBelowId], [['p_history'], 0]);
  });

  it('after a long stop, adds the missing days from the last one, none older than the cutoff, and drops the empty days the cutoff has passed', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const plan = planLogPartitions([...days('2026-11-20'), future], now - 30 * DAY_MS, now, LATE);
    assert.equal(plan.add[0]!.name, 'p20261121');
    assert.equal(plan.add[plan.add.length - 1]!.name, 'p20261207');
    const [september] = days('2026-09-01');
    const [emptyDay] = days('2026-09-02');
    const [emptyToday] = days('2026-11-30');
    const longStop = planLogPartitions([september!, { ...emptyDay!, newestAt: null, rows: 0 }, { ...emptyToday!, newestAt: null, rows: 0 }, future], now - 30 * DAY_MS, now, LATE);
    assert.deepEqual(names(longStop.drop), ['p20260901', 'p20260902'], 'an empty day of the past goes; today, empty, stays');
    assert.equal(longStop.add[0]!.name, 'p20261201', 'from the day after the last bound');
    const gap = planLogPartitions([september!, future], now - 30 * DAY_MS, now, LATE);
    assert.equal(gap.add[0]!.name, 'p20261031', 'the day of the cutoff onwards: its partition takes the unused ids before it');
    assert.equal(gap.add[0]!.lessThan, firstIdOfDay(day('2026-11-01')));
  });

  it('drops every day when all have expired, and prepares the days from the cutoff on', () => {
    const now = Date.parse('2036-11-30T10:00:00Z');
    const history: DatedPartition = { name: 'p_history', lessThan: firstIdOfDay(day('2026-11-30')), rows: 5, newestAt: day('2026-11-30') - 1 };
    const plan = planLogPartitions([history, ...days('2026-11-30', '2026-12-01'), future], now - 30 * DAY_MS, now, LATE);
    assert.deepEqual(names(plan.drop), ['p_history', 'p20261130', 'p20261201']);
    assert.equal(plan.add[0]!.name, 'p20361031');
    assert.equal(plan.deleteBelowId, 0);
  });

  it('adds a MAXVALUE-less table its days too, and leaves a table whose only partition is MAXVALUE its rows', () => {
    const now = Date.parse('2026-11-30T10:00:00Z');
    const plan = planLogPartitions(days('2026-11-30'), now - 30 * DAY_MS, now, LATE);
    assert.equal(plan.add.length, PARTITION_DAYS_AHEAD);
    // Not a layout retention makes, but one it must not break on.
    const only = planLogPartitions([{ name: 'p0', lessThan: null, rows: 9, newestAt: now - 40 * DAY_MS }], now - 30 * DAY_MS, now, LATE);
    assert.equal(only.add[0]!.name, 'p20261130');
    assert.deepEqual([only.drop.length, only.deleteBelowId], [0, 0]);
  });
});

describe('the id ranges of the partitions of execution_logs', () => {
  it('each partition from the bound of the one before (0 for the first) to below its own; MAXVALUE as the largest safe integer', () => {
    const ranges = idRanges([{ name: 'p_history', lessThan: 500, rows: 3 }, ...days('2026-11-29', '2026-11-30'), future]);
    assert.deepEqual(ranges, [
      { from: 0, below: 500 },
      { from: 500, below: firstIdOfDay(day('2026-11-30')) },
      { from: firstIdOfDay(day('2026-11-30')), below: firstIdOfDay(day('2026-12-01')) },
      { from: firstIdOfDay(day('2026-12-01')), below: Number.MAX_SAFE_INTEGER },
    ]);
    assert.deepEqual(idRanges([]), []);
  });
});
