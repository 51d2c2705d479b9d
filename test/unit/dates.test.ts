import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCalendarDateOrDateTime, isCalendarDateTimeWithOffset } from '../../src/common/dates.js';

describe('isCalendarDateTimeWithOffset', () => {
  it('takes real date-times in the envelope form', () => {
    for (const value of ['2026-11-22T10:15:30+00:00', '2026-11-22T10:15Z', '2024-02-29T23:59:59.123456-03:30', '2000-02-29T00:00:00+14:00', '2026-12-31T23:59:59Z']) {
      assert.equal(isCalendarDateTimeWithOffset(value), true, value);
    }
  });

  it('refuses dates and times that do not exist, and other forms', () => {
    for (const value of [
      '2026-02-30T10:00:00+00:00',
      '2026-02-29T10:00:00+00:00',
      '1900-02-29T10:00:00Z',
      '2026-04-31T10:00:00Z',
      '2026-13-01T10:00:00Z',
      '2026-00-01T10:00:00Z',
      '2026-01-00T10:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:60:00Z',
      '2026-01-01T10:00:60Z',
      '2026-01-01T10:00:00+24:00',
      '2026-01-01T10:00:00+01:60',
      '2026-01-01T10:00:00',
      '2026-01-01',
      '2026-01-01 10:00:00Z',
    ]) {
      assert.equal(isCalendarDateTimeWithOffset(value), false, value);
    }
  });
});

describe('isCalendarDateOrDateTime', () => {
  it('takes a date, or a date-time with or without an offset', () => {
    for (const value of ['2024-02-29', '2026-11-22T10:15', '2026-11-22T10:15:30.123Z', '2026-11-22T10:15:30+02:00', '2026-11-22T10:15:30.123456789Z']) {
      assert.equal(isCalendarDateOrDateTime(value), true, value);
    }
  });

  it('refuses what the calendar does not have', () => {
    for (const value of ['2026-02-30', '2026-06-31', '2026-02-28T24:00:00Z', 'yesterday', '2026-1-1', '20260101', '2026-01-01T10:00:00+0100', '2026-W09-7', '2026-060', '2026-02-28T23:59:59,5Z']) {
      assert.equal(isCalendarDateOrDateTime(value), false, value);
    }
  });
});
