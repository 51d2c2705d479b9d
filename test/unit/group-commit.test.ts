import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../../src/database/group-commit.js';

describe('GroupCommit', () => {
  it('writes items submitted together in one batch and answers each caller with its own result', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit<number, string>(async (items) => {
      batches.push(items);
      return items.map((n) => `r${n}`);
    });
    const results = await Promise.all([1, 2, 3].map((n) => group.submit(n)));
    assert.deepEqual(results, ['r1', 'r2', 'r3']);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('collects what arrives during a write into the next batch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const group = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items;
    });
    const first = group.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const later = [group.submit(2), group.submit(3)];
    release();
    assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3]);
    assert.deepEqual(batches, [[1], [2, 3]]);
  });

  it('respects the batch limit', async () => {
    const sizes: number[] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      sizes.push(items.length);
      return items;
    }, 2);
    await Promise.all([1, 2, 3, 4, 5].map((n) => group.submit(n)));
    assert.deepEqual(sizes, [2, 2, 1]);
  });

  it('with two writers, starts a second write while the first is in flight, never a third', async () => {
    const batches: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const group = new GroupCommit<number, number>(
      async (items) => {
        batches.push(items);
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => gates.push(resolve));
        inFlight -= 1;
        return items;
      },
      200,
      2,
    );
    const first = group.submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const second = group.submit(2);
    await new Promise((resolve) => setImmediate(resolve));
    const third = [group.submit(3), group.submit(4)];
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(batches, [[1], [2]]);
    while (gates.length > 0 || batches.length < 3) {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    gates.forEach((release) => release());
    assert.deepEqual(await Promise.all([first, second, ...third]), [1, 2, 3, 4]);
    assert.deepEqual(batches, [[1], [2], [3, 4]]);
    assert.equal(most, 2);
  });

  it('when a batch fails, writes each item alone so only the bad one fails', async () => {
    const group = new GroupCommit<number, number>(async (items) => {
      if (items.includes(13)) throw new Error('unlucky');
      return items.map((n) => n * 10);
    });
    const outcomes = await Promise.allSettled([12, 13, 14].map((n) => group.submit(n)));
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      [120, 'unlucky', 140],
    );
  });
});
