/**
 * Retry timing for webhook deliveries: duration parsing, the backoff schedule with jitter, and
 * the `Retry-After` header.
 */

const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

type DurationUnit = keyof typeof UNIT_MS;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/** Parses a single duration: a non-negative integer followed by ms|s|m|h|d ('250ms', '5s', '2h', '1d'). */
export function parseDuration(text: string): number {
  const trimmed = typeof text === 'string' ? text.trim() : '';
  const match = DURATION.exec(trimmed);
  if (!match) {
    throw new Error(
      `Invalid duration ${JSON.stringify(text)}: expected a whole number followed by a unit ms, s, m, h or d (e.g. '250ms', '5s', '2h')`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  if (!Number.isSafeInteger(ms)) throw new Error(`Invalid duration ${JSON.stringify(text)}: too large`);
  return ms;
}

/** Parses a comma-separated list such as '5s,5m,30m,2h,5h,10h,10h' into milliseconds. */
export function parseDurationList(text: string): number[] {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new Error('Invalid duration list: it is empty (expected e.g. 5s,5m,30m,2h)');
  }
  return text.split(',').map((entry, index) => {
    try {
      return parseDuration(entry);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new Error(`Invalid duration list ${JSON.stringify(text)}: entry ${index + 1}: ${detail}`);
    }
  });
}

/** 5s, 5m, 30m, 2h, 5h, 10h, 10h: seven retries spread over about a day (27h 35m 5s). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze(
  parseDurationList('5s,5m,30m,2h,5h,10h,10h'),
);

export class RetryPolicy {
  private readonly schedule: readonly number[];

  constructor(
    schedule: readonly number[],
    private readonly jitterRatio = 0.2,
    private readonly random: () => number = Math.random,
  ) {
    if (schedule.length === 0) throw new Error('Retry schedule must have at least one entry');
    for (const delay of schedule) {
      if (!Number.isFinite(delay) || delay < 0) {
        throw new Error(`Invalid retry delay ${delay}: expected a finite number of milliseconds >= 0`);
      }
    }
    if (!Number.isFinite(jitterRatio) || jitterRatio < 0 || jitterRatio > 1) {
      throw new Error(`Invalid jitter ratio ${jitterRatio}: expected a number between 0 and 1`);
    }
    this.schedule = Object.freeze([...schedule]);
  }

  /**
   * Delay before retry number `retry` (1 = first retry after the first failed attempt):
   * schedule[min(retry-1, len-1)] scaled by a uniform factor in [1 - jitter, 1 + jitter];
   * never negative; integer ms.
   */
  delayMs(retry: number): number {
    if (!Number.isInteger(retry) || retry < 1) {
      throw new RangeError(`Invalid retry number ${retry}: expected an integer >= 1`);
    }
    const base = this.schedule[Math.min(retry - 1, this.schedule.length - 1)];
    const r = Math.min(1, Math.max(0, Number(this.random()) || 0));
    const factor = 1 - this.jitterRatio + 2 * this.jitterRatio * r;
    return Math.max(0, Math.round(base * factor));
  }
}

const DEFAULT_RETRY_AFTER_CAP_MS = 24 * 60 * 60 * 1000;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Obsolete asctime: Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function utc(year: number, monthName: string, day: number, hour: number, minute: number, second: number): number | null {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return null;
  const time = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  const check = new Date(time);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  return time;
}

/** Parses the three HTTP-date forms (RFC 9110 §5.6.7) into epoch ms, or null. */
function parseHttpDate(text: string, now: number): number | null {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  m = RFC850_DATE.exec(text);
  if (m) {
    // Two-digit year: a year more than 50 years in the future means the previous century.
    const nowYear = new Date(now).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  m = ASCTIME_DATE.exec(text);
  if (m) return utc(Number(m[6]), m[1], Number(m[2].trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return null;
}

/**
 * Parses a Retry-After header value: delta seconds, or an HTTP-date relative to `now` (epoch ms).
 * Returns the milliseconds to wait (>= 0, at most `capMs`, default 24h), or null when the header
 * is absent or invalid. With several values the first is used.
 */
export function parseRetryAfter(
  value: string | string[] | undefined | null,
  now: number,
  capMs: number = DEFAULT_RETRY_AFTER_CAP_MS,
): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return null;
  const text = raw.trim();
  if (text === '') return null;
  const cap = Math.max(0, capMs);

  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isFinite(ms) ? Math.min(ms, cap) : cap;
  }

  const at = parseHttpDate(text, now);
  if (at === null) return null;
  return Math.min(Math.max(0, Math.ceil(at - now)), cap);
}
