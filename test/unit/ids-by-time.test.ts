import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstIdFrom, IdOrder, lastIdTo, NO_ROW_ABOVE, splitAt, TimedRow } from '../../src/database/ids-by-time.js';
import { seededRandom } from '../utils/seeded-random.js';

/** Rows in id order as the search reads them, counting its reads. */
function order(rows: readonly TimedRow[]): IdOrder & { reads: number } {
  const result = {
    reads: 0,
    async atOrAbove(id: number) {
      result.reads++;
      return rows.find((row) => row.id >= id);
    },
    async last() {
      result.reads++;
      return rows[rows.length - 1];
    },
  };
  return result;
}


/**
 * Rows as a table gets them: written in id order (with gaps, as deleted rows and rolled-back
 * inserts leave), in bursts and lulls, each dated up to `late` ms before it was written.
 */
function table(seed: number, count: number, late: number): TimedRow[] {
  const next = seededRandom(seed);
  const rows: TimedRow[] = [];
  let id = 1 + Math.floor(next() * 1000);
  let written = 1_700_000_000_000;
  for (let i = 0; i < count; i++) {
    written += next() < 0.01 ? Math.floor(next() * 600_000) : Math.floor(next() * 20);
    id += next() < 0.05 ? 2 + Math.floor(next() * 50) : 1;
    rows.push({ id, at: written - (next() < 0.1 ? Math.floor(next() * late) : 0) });
  }
  return rows;
}

describe('splitAt: where a moment falls among rows in id order', () => {
  it('answers a row before the moment and the row after it, which is not', async () => {
    const rows = table(7, 5000, 5000);
    const next = seededRandom(11);
    const first = rows[0]!.at;
    const span = rows[rows.length - 1]!.at - first;
    for (let i = 0; i < 300; i++) {
      const moment = first - 1000 + Math.floor(next() * (span + 2000));
      const split = await splitAt(order(rows), moment, (at) => at < moment);
      if (split.before !== null) assert.ok(split.before.at < moment);
      else assert.ok(rows[0]!.at >= moment, 'no row before only when the first is not');
      if (split.after !== null) assert.ok(split.after.at >= moment);
      else assert.ok(rows[rows.length - 1]!.at < moment, 'no row after only when the last is before');
      if (split.before !== null && split.after !== null) {
        assert.ok(!rows.some((row) => row.id > split.before!.id && row.id < split.after!.id), '`after` follows `before` in id order');
      }
    }
  });

  it('gives id bounds that hold every row of a date range, with rows written up to `late` after their date', async () => {
    const late = 5000;
    const rows = table(3, 4000, late);
    const next = seededRandom(5);
    const first = rows[0]!.at;
    const span = rows[rows.length - 1]!.at - first;
    for (let i = 0; i < 200; i++) {
      const from = first + Math.floor(next() * span);
      const to = from + Math.floor(next() * 3_600_000);
      const low = firstIdFrom(await splitAt(order(rows), from - late, (at) => at < from - late));
      const high = lastIdTo(await splitAt(order(rows), to + late, (at) => at <= to + late));
      for (const row of rows.filter((r) => r.at >= from && r.at <= to)) assert.ok(row.id >= low && row.id <= high, `row ${row.id} dated ${row.at} is within [${low}, ${high}]`);
      const cutoff = from;
      const end = lastIdTo(await splitAt(order(rows), cutoff + late, (at) => at <= cutoff + late));
      for (const row of rows.filter((r) => r.at < cutoff)) assert.ok(row.id <= end, `row ${row.id} dated before the cutoff is within the walk`);
    }
  });

  it('reads a few rows for a table written at a steady rate, and at most twice a binary search in bursts', async () => {
    const steady = Array.from({ length: 1_000_000 }, (_, i) => ({ id: i + 1, at: 1_700_000_000_000 + i * 20 + (i % 7) }));
    const reads: number[] = [];
    for (const fraction of [0.001, 0.25, 0.5, 0.77, 0.999]) {
      const moment = 1_700_000_000_000 + Math.floor(fraction * 20_000_000);
      const rows = order(steady);
      const split = await splitAt(rows, moment, (at) => at < moment);
      assert.ok(split.before!.at < moment && split.after!.at >= moment && split.after!.id === split.before!.id + 1);
      reads.push(rows.reads);
    }
    assert.ok(Math.max(...reads) <= 8, `reads per search: ${reads.join(', ')}`);

    // Two bursts a day apart: dates are no guide to ids within them.
    const bursts = Array.from({ length: 100_000 }, (_, i) => ({ id: i + 1, at: (i < 50_000 ? 0 : 86_400_000) + i }));
    const rows = order(bursts);
    const split = await splitAt(rows, 86_400_000 + 70_000, (at) => at < 86_400_000 + 70_000);
    assert.equal(split.after!.id, 70_001);
    assert.ok(rows.reads <= 2 + 2 * Math.ceil(Math.log2(100_000)), `${rows.reads} reads`);
  });

  it('answers an empty table, a single row, and moments before the first row and after the last', async () => {
    assert.deepEqual(await splitAt(order([]), 5, (at) => at < 5), { before: null, after: null });
    const one = [{ id: 4, at: 100 }];
    assert.deepEqual(await splitAt(order(one), 100, (at) => at < 100), { before: null, after: one[0] });
    assert.deepEqual(await splitAt(order(one), 100, (at) => at <= 100), { before: one[0], after: null });
    const rows = [
      { id: 1, at: 10 },
      { id: 2, at: 20 },
      { id: 9, at: 30 },
    ];
    assert.deepEqual(await splitAt(order(rows), 25, (at) => at < 25), { before: rows[1], after: rows[2] });
    assert.equal(firstIdFrom({ before: null, after: rows[0]! }), 1);
    assert.equal(firstIdFrom({ before: rows[1]!, after: rows[2]! }), 3);
    assert.equal(firstIdFrom({ before: rows[2]!, after: null }), NO_ROW_ABOVE);
    assert.equal(lastIdTo({ before: null, after: rows[0]! }), 0);
    assert.equal(lastIdTo({ before: rows[2]!, after: null }), 9);
    assert.equal(lastIdTo({ before: rows[1]!, after: rows[2]! }), 8);
  });
});
