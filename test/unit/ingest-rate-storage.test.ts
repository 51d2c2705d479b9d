import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { IngestRateStorage } from '../../src/common/ingest-rate-storage.js';
import { seededRandom } from '../utils/seeded-random.js';


/**
 * The answer as IngestThrottlerGuard reads it: timeToBlockExpire only when blocked (the library
 * answers a stale negative figure otherwise, kept from the key's last block, which a key that was
 * forgotten while idle no longer has).
 */
function used(record: { totalHits: number; timeToExpire: number; isBlocked: boolean; timeToBlockExpire: number }) {
  return { ...record, timeToBlockExpire: record.isBlocked ? record.timeToBlockExpire : 'not read' };
}

describe('IngestRateStorage', () => {
  const realNow = Date.now;
  after(() => {
    Date.now = realNow;
  });

  // @nestjs/throttler's own in-memory storage reads Date.now(); both are driven by one clock here.
  for (const { limit, ttl, blockDuration } of [
    { limit: 5, ttl: 1000, blockDuration: 1000 },
    { limit: 3, ttl: 60_000, blockDuration: 60_000 },
    { limit: 20, ttl: 1000, blockDuration: 2500 },
    { limit: 4, ttl: 1500, blockDuration: 0 },
  ]) {
    it(`answers as @nestjs/throttler's storage does, request for request (limit ${limit}, ttl ${ttl} ms, block ${blockDuration} ms)`, async () => {
      let now = 1_800_000_000_000;
      Date.now = () => now;
      const library = new ThrottlerStorageService();
      const ours = new IngestRateStorage(() => now);
      const next = seededRandom(limit * 7919 + ttl);
      let blocked = 0;
      let passed = 0;
      try {
        for (let i = 0; i < 3000; i++) {
          // Bursts and gaps: most requests close together, some after a pause past the window.
          now += next() < 0.99 ? Math.floor((next() * ttl) / limit / 2) : Math.floor(next() * ttl * 3);
          const key = `ingest:default:key:${1 + Math.floor(next() * 3)}`;
          const expected = await library.increment(key, ttl, limit, blockDuration, 'default');
          const actual = await ours.increment(key, ttl, limit, blockDuration, 'default');
          assert.deepEqual(used(actual), used(expected), `request ${i} at ${now} for ${key}`);
          if (actual.isBlocked) blocked++;
          else passed++;
        }
      } finally {
        library.onApplicationShutdown();
      }
      // The sequence exercised both answers, or the comparison proved little.
      assert.ok(blocked > 100 && passed > 100, `${passed} passed, ${blocked} blocked`);
    });
  }

  it('keeps at most `limit` hits in any window and grows past its first ring', () => {
    let now = 0;
    const storage = new IngestRateStorage(() => now);
    const answers = [];
    for (let i = 0; i < 1000; i++) answers.push(storage.hit('k', 1000, 1000, 1000));
    assert.equal(answers.at(-1)?.totalHits, 1000);
    assert.equal(answers.filter((answer) => answer.isBlocked).length, 0);
    const over = storage.hit('k', 1000, 1000, 1000);
    assert.equal(over.isBlocked, true);
    assert.equal(over.timeToBlockExpire, 1);
    now = 1000;
    const again = storage.hit('k', 1000, 1000, 1000);
    assert.deepEqual(again, { totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('forgets idle keys', () => {
    let now = 0;
    const storage = new IngestRateStorage(() => now);
    for (let key = 0; key < 50; key++) storage.hit(`k${key}`, 1000, 10, 1000);
    assert.equal(storage.size, 50);
    now = 120_000;
    storage.hit('fresh', 1000, 10, 1000);
    assert.equal(storage.size, 1);
  });
});
