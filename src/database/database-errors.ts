import { ACQUIRE_TIMEOUT_CODE, QUERY_TIMEOUT_CODE } from './bounded-pool.js';

/** The bounds of bounded-pool.ts ran out: the database gave no answer (or no connection) in time. */
const TIMEOUT_CODES = new Set([QUERY_TIMEOUT_CODE, ACQUIRE_TIMEOUT_CODE]);

/** Error codes that mean "the database cannot be reached now", not "this statement is wrong". */
const UNREACHABLE_CODES = new Set([
  ...TIMEOUT_CODES,
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_LOCK_WAIT_TIMEOUT',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_FULL',
]);

/** MySQL client errors: 2002 can't connect, 2003 can't connect (TCP), 2006 gone away, 2013 lost during query. */
const UNREACHABLE_ERRNOS = new Set([2002, 2003, 2006, 2013]);

/**
 * True when an error (or the driver error it wraps) says the database is down or overloaded:
 * the operation may succeed later unchanged. mysql2 also marks connection-level errors `fatal`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const e = current as { code?: unknown; errno?: unknown; fatal?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('SQLITE_IOERR'))) return true;
    if (typeof e.errno === 'number' && UNREACHABLE_ERRNOS.has(e.errno)) return true;
    if (e.fatal === true) return true;
    if (typeof e.message === 'string' && /closed state|Pool is closed|Connection lost|connect ECONNREFUSED/i.test(e.message)) return true;
    current = e.driverError ?? e.cause;
  }
  return false;
}

/** True when the database gave no answer within DATABASE_QUERY_TIMEOUT_MS or no connection within DATABASE_ACQUIRE_TIMEOUT_MS. */
export function isDatabaseTimeout(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const e = current as { code?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof e.code === 'string' && TIMEOUT_CODES.has(e.code)) return true;
    current = e.driverError ?? e.cause;
  }
  return false;
}
