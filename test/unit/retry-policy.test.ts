import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  DEFAULT_RETRY_SCHEDULE_MS,
  RetryPolicy,
  parseDuration,
  parseDurationList,
  parseRetryAfter,
} from '../../src/dispatcher/retry-policy.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it('parses each unit', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('5s'), 5 * SECOND);
    assert.equal(parseDuration('5m'), 5 * MINUTE);
    assert.equal(parseDuration('2h'), 2 * HOUR);
    assert.equal(parseDuration('1d'), DAY);
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration(' 30m '), 30 * MINUTE);
  });

  it('rejects bad values with a clear message', () => {
    for (const bad of ['', '5', '5x', '-5s', '1.5s', 's', '5 s', '5S', '1e3ms', '99999999999999999d']) {
      assert.throws(() => parseDuration(bad), /Invalid duration/, bad);
    }
  });
});

describe('parseDurationList', () => {
  it('parses a valid list', () => {
    assert.deepEqual(parseDurationList('5s,5m'), [5 * SECOND, 5 * MINUTE]);
    assert.deepEqual(parseDurationList('250ms, 1d ,2h'), [250, DAY, 2 * HOUR]);
    assert.deepEqual(parseDurationList('10h'), [10 * HOUR]);
  });

  it('rejects an empty list', () => {
    assert.throws(() => parseDurationList(''), /empty/);
    assert.throws(() => parseDurationList('   '), /empty/);
  });

  it('rejects a bad entry and names it', () => {
    assert.throws(() => parseDurationList('5x'), /entry 1.*"5x"/);
    assert.throws(() => parseDurationList('5s,-5s'), /entry 2.*"-5s"/);
    assert.throws(() => parseDurationList('5s,5m,5'), /entry 3.*"5"/);
    assert.throws(() => parseDurationList('1.5s'), /Invalid duration/);
    assert.throws(() => parseDurationList('5s,,5m'), /entry 2/);
    assert.throws(() => parseDurationList('5s,'), /entry 2/);
  });
});

describe('DEFAULT_RETRY_SCHEDULE_MS', () => {
  it('is 5s, 5m, 30m, 2h, 5h, 10h, 10h', () => {
    assert.deepEqual(
      [...DEFAULT_RETRY_SCHEDULE_MS],
      [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
    );
  });

  it('has 7 entries summing to about a day (20h..40h)', () => {
    assert.equal(DEFAULT_RETRY_SCHEDULE_MS.length, 7);
    const total = DEFAULT_RETRY_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0);
    assert.ok(total >= 20 * HOUR && total <= 40 * HOUR, `total ${total / HOUR}h`);
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(DEFAULT_RETRY_SCHEDULE_MS));
  });
});

describe('RetryPolicy.delayMs', () => {
  const at = (r: number): RetryPolicy => new RetryPolicy(DEFAULT_RETRY_SCHEDULE_MS, 0.2, () => r);

  it('scales by exactly 0.8x, 1x, 1.2x for random 0, 0.5, 1', () => {
    DEFAULT_RETRY_SCHEDULE_MS.forEach((base, i) => {
      assert.equal(at(0).delayMs(i + 1), base * 0.8);
      assert.equal(at(0.5).delayMs(i + 1), base);
      assert.equal(at(1).delayMs(i + 1), base * 1.2);
    });
    assert.equal(at(0).delayMs(1), 4000);
    assert.equal(at(0.5).delayMs(1), 5000);
    assert.equal(at(1).delayMs(1), 6000);
  });

  it('uses the last entry beyond the end of the schedule', () => {
    const policy = at(0.5);
    assert.equal(policy.delayMs(7), 10 * HOUR);
    assert.equal(policy.delayMs(8), 10 * HOUR);
    assert.equal(policy.delayMs(100), 10 * HOUR);
    assert.equal(new RetryPolicy([1000, 2000], 0, () => 0.9).delayMs(5), 2000);
  });

  it('stays within the jitter band, is an integer and never negative with Math.random', () => {
    const policy = new RetryPolicy([1001, 7], 0.2);
    for (let i = 0; i < 500; i += 1) {
      const d = policy.delayMs(1);
      assert.ok(Number.isInteger(d) && d >= Math.floor(1001 * 0.8) && d <= Math.ceil(1001 * 1.2), String(d));
      assert.ok(policy.delayMs(2) >= 0);
    }
  });

  it('never goes negative, even with jitter 1 or an out-of-range random source', () => {
    assert.equal(new RetryPolicy([1000], 1, () => 0).delayMs(1), 0);
    assert.equal(new RetryPolicy([1000], 0.2, () => -5).delayMs(1), 800);
    assert.equal(new RetryPolicy([1000], 0.2, () => 5).delayMs(1), 1200);
  });

  it('without jitter returns the schedule as is', () => {
    const policy = new RetryPolicy([5, 10], 0);
    assert.equal(policy.delayMs(1), 5);
    assert.equal(policy.delayMs(2), 10);
  });

  it('rejects a bad retry number, schedule or jitter ratio', () => {
    assert.throws(() => at(0.5).delayMs(0), RangeError);
    assert.throws(() => at(0.5).delayMs(1.5), RangeError);
    assert.throws(() => new RetryPolicy([]), /at least one/);
    assert.throws(() => new RetryPolicy([-1]), /Invalid retry delay/);
    assert.throws(() => new RetryPolicy([1000], 1.5), /jitter/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);

  it('parses delta seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 7 ', now), 7000);
  });

  it('parses an HTTP-date 30 s in the future', () => {
    const realNow = Date.now();
    const inThirty = new Date(realNow + 30_000).toUTCString();
    const ms = parseRetryAfter(inThirty, realNow);
    assert.ok(ms !== null && Math.abs(ms - 30_000) <= 1000, String(ms));
  });

  it('parses the obsolete RFC 850 and asctime date forms', () => {
    assert.equal(parseRetryAfter('Wed, 15 Jan 2025 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wednesday, 15-Jan-25 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed Jan 15 12:01:00 2025', now), 60_000);
    assert.equal(parseRetryAfter('Wed Jan  5 12:00:00 2025', Date.UTC(2025, 0, 5, 11, 59, 0)), 60_000);
  });

  it('returns 0 for a date in the past', () => {
    assert.equal(parseRetryAfter(new Date(now - 60_000).toUTCString(), now), 0);
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 0);
  });

  it('returns null when absent or invalid', () => {
    for (const bad of [undefined, null, '', '   ', 'soon', '1.5', '-5', '5s', '12abc', 'Wed, 32 Jan 2025 12:00:00 GMT', 'Sat, 30 Feb 2025 12:00:00 GMT']) {
      assert.equal(parseRetryAfter(bad, now), null, String(bad));
    }
    assert.equal(parseRetryAfter([], now), null);
  });

  it('uses the first value of an array', () => {
    assert.equal(parseRetryAfter(['15', '999'], now), 15_000);
    assert.equal(parseRetryAfter(['garbage', '15'], now), null);
  });

  it('caps the wait (24h by default, or capMs)', () => {
    assert.equal(parseRetryAfter(String(3 * 24 * 3600), now), DAY);
    assert.equal(parseRetryAfter('99999999999999999999999', now), DAY);
    assert.equal(parseRetryAfter(new Date(now + 7 * DAY).toUTCString(), now), DAY);
    assert.equal(parseRetryAfter('600', now, 60_000), 60_000);
    assert.equal(parseRetryAfter('30', now, 60_000), 30_000);
  });
});
