/**
 * Date-time text that names a real instant. Date.parse (and validator.js) take
 * `2026-02-30` or `24:00` and roll them over to another day, so the fields are checked
 * against the calendar here: month 1–12, the day within its month (leap years included),
 * hour 0–23, minute and second 0–59, an offset of at most ±23:59.
 */

// Events' dt: the envelope's form, the offset required.
const WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
// Query and body ranges: a date, or a date-time with an optional offset (local time without one).
const DATE_OR_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function fieldsExist(match: RegExpExecArray): boolean {
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  if (day > (month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  if (match[4] !== undefined && Number(match[4]) > 23) return false;
  if (match[5] !== undefined && Number(match[5]) > 59) return false;
  if (match[6] !== undefined && Number(match[6]) > 59) return false;
  if (match[7] !== undefined && Number(match[7]) > 23) return false;
  if (match[8] !== undefined && Number(match[8]) > 59) return false;
  return true;
}

/** ISO 8601 date-time with an offset (`Z` or `±hh:mm`) whose every field exists in the calendar. */
export function isCalendarDateTimeWithOffset(value: string): boolean {
  const match = WITH_OFFSET.exec(value);
  return match !== null && fieldsExist(match);
}

/** `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm[:ss[.fraction]]` with an optional offset, every field existing. */
export function isCalendarDateOrDateTime(value: string): boolean {
  const match = DATE_OR_DATE_TIME.exec(value);
  return match !== null && fieldsExist(match);
}
