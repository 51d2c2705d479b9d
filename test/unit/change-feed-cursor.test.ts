import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ChangeFeedCursor } from '../../src/cache-manager/change-feed-cursor.js';

const rows = (...versions: number[]) => versions.map((version) => ({ version, handlerId: version * 10 }));
const versions = (list: ReadonlyArray<{ version: number }>) => list.map((row) => row.version);

describe('ChangeFeedCursor', () => {
  it('starts at version 0 and floor 0', () => {
    const cursor = new ChangeFeedCursor();
    assert.equal(cursor.version, 0);
    assert.equal(cursor.floor, 0);
  });

  it('take() returns only unseen rows', () => {
    const cursor = new ChangeFeedCursor();
    assert.deepEqual(versions(cursor.take(rows(1, 2, 3))), [1, 2, 3]);
    assert.deepEqual(versions(cursor.take(rows(1, 2, 3, 4))), [4]);
    assert.deepEqual(versions(cursor.take(rows(1, 2, 3, 4))), []);
  });

  it('take() returns the row objects themselves', () => {
    const cursor = new ChangeFeedCursor();
    const input = rows(5);
    assert.strictEqual(cursor.take(input)[0], input[0]);
  });

  it('version tracks the highest version seen', () => {
    const cursor = new ChangeFeedCursor();
    cursor.take(rows(3, 7, 5));
    assert.equal(cursor.version, 7);
    cursor.take(rows(6));
    assert.equal(cursor.version, 7, 'a lower version does not move it back');
    cursor.take(rows(9));
    assert.equal(cursor.version, 9);
  });

  it('returns an out-of-order commit seen in a later poll', () => {
    const cursor = new ChangeFeedCursor();
    cursor.take(rows(8, 9));
    // poll 1: version 11 committed, 10 not yet visible
    assert.deepEqual(versions(cursor.take(rows(11))), [11]);
    assert.equal(cursor.version, 11);
    assert.ok(cursor.floor < 10, 'the next poll must still ask for version 10');
    // poll 2: 10 has committed
    assert.deepEqual(versions(cursor.take(rows(10, 11))), [10]);
    assert.equal(cursor.version, 11);
  });

  it('floor is the highest version minus the window (never below 0)', () => {
    const cursor = new ChangeFeedCursor(5);
    cursor.take(rows(3));
    assert.equal(cursor.floor, 0);
    cursor.take(rows(12));
    assert.equal(cursor.floor, 7);
    // versions at or below the floor are never polled again: considered applied
    const polled = rows(...Array.from({ length: 12 }, (_, i) => i + 1)).filter((row) => row.version > cursor.floor);
    assert.deepEqual(versions(cursor.take(polled)), [8, 9, 10, 11]);
  });

  it('still remembers the versions inside the window', () => {
    const cursor = new ChangeFeedCursor(5);
    cursor.take(rows(6, 7, 8, 9, 10));
    assert.equal(cursor.floor, 5);
    assert.deepEqual(versions(cursor.take(rows(6, 7, 8, 9, 10))), []);
  });

  it('reset(high, visible) marks those versions seen and returns a straggler later', () => {
    const cursor = new ChangeFeedCursor(10);
    cursor.take(rows(1, 2));
    cursor.reset(20, [15, 16, 18, 19, 20]);
    assert.equal(cursor.version, 20);
    assert.equal(cursor.floor, 10);
    // the visible ones are applied by the reload
    assert.deepEqual(versions(cursor.take(rows(15, 16, 18, 19, 20))), []);
    // 17 was invisible at reload time; it shows up in a later poll
    assert.deepEqual(versions(cursor.take(rows(15, 16, 17, 18, 19, 20))), [17]);
    assert.deepEqual(versions(cursor.take(rows(21))), [21]);
    assert.equal(cursor.version, 21);
  });

  it('reset clamps a negative high to 0', () => {
    const cursor = new ChangeFeedCursor();
    cursor.reset(-5, []);
    assert.equal(cursor.version, 0);
    assert.equal(cursor.floor, 0);
  });
});
