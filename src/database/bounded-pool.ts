import type { Pool, PoolConnection } from 'mysql2';

/** How long a caller waits on MySQL/MariaDB (AppConfig.databaseTimeouts). */
export interface DatabaseBounds {
  /** A statement that gets no answer for this long fails, and its connection is destroyed. */
  queryMs: number;
  /** Waiting for a connection of the pool (a free one, or a new one to connect) is bounded by this. */
  acquireMs: number;
}

/** The code of the error a caller gets when no connection came within `acquireMs`. */
export const ACQUIRE_TIMEOUT_CODE = 'DATABASE_ACQUIRE_TIMEOUT';
/** mysql2's code for a statement that got no answer within its `timeout`. */
export const QUERY_TIMEOUT_CODE = 'PROTOCOL_SEQUENCE_TIMEOUT';

const BOUNDED = Symbol('bounded');

type Callback = (error: (Error & { code?: string; fatal?: boolean }) | null, ...rest: unknown[]) => void;
type QueryFn = (sql: unknown, values?: unknown, callback?: unknown) => unknown;
type Marked = { [BOUNDED]?: true };

/**
 * Puts both bounds on the mysql2 pool that TypeORM created, so that every statement of the
 * service — TypeORM's repositories and queries as well as the hand-written SQL of DirectSql —
 * is bounded, and a stalled server (one that keeps the connection open and never answers)
 * costs a request at most acquireMs + queryMs instead of as long as it stalls.
 *
 * mysql2 offers a per-statement `timeout`, but no default one for a pool and no bound on
 * `getConnection` (its `connectTimeout` only covers connecting); TypeORM passes the pool
 * options through but sets a statement's timeout only together with its slow-query log, which
 * would print statements with their parameters. So the pool's `getConnection` is wrapped here:
 * it gives up after acquireMs (a connection that comes later goes straight back to the pool),
 * and gives every statement on the connections it hands out `timeout: queryMs` unless one is set.
 *
 * A statement that timed out leaves its connection mid-conversation: the late answer would be
 * read as the answer to the next statement. The connection is therefore destroyed (it leaves the
 * pool, which opens a new one when needed) and the error is marked `fatal`, as mysql2 marks
 * broken connections, so holders of dedicated connections drop theirs too.
 */
export function boundMysqlPool(pool: Pool, bounds: DatabaseBounds): void {
  const marked = pool as Pool & Marked;
  if (marked[BOUNDED]) return;
  marked[BOUNDED] = true;
  const getConnection = pool.getConnection.bind(pool) as (callback: (error: Error | null, connection: PoolConnection) => void) => void;
  (pool as unknown as { getConnection: unknown }).getConnection = (callback: (error: Error | null, connection?: PoolConnection) => void) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const error = new Error(`No database connection within ${bounds.acquireMs} ms (DATABASE_ACQUIRE_TIMEOUT_MS)`) as Error & { code: string };
      error.code = ACQUIRE_TIMEOUT_CODE;
      callback(error);
    }, bounds.acquireMs);
    getConnection((error, connection) => {
      if (settled) {
        if (!error) connection.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error) return callback(error);
      boundConnection(connection, bounds.queryMs);
      callback(null, connection);
    });
  };
}

function boundConnection(connection: PoolConnection, queryMs: number): void {
  const marked = connection as PoolConnection & Marked;
  if (marked[BOUNDED]) return;
  marked[BOUNDED] = true;
  const query = connection.query as unknown as QueryFn;
  const guard = (callback: Callback): Callback => {
    let called = false;
    return function (this: unknown, error, ...rest) {
      if (called) return;
      called = true;
      if (error?.code === QUERY_TIMEOUT_CODE) {
        error.fatal = true;
        destroy(connection);
      }
      callback.call(this, error, ...rest);
    };
  };
  (connection as unknown as { query: QueryFn }).query = function (this: unknown, sql: unknown, values?: unknown, callback?: unknown) {
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    if (sql !== null && typeof sql === 'object' && typeof (sql as { start?: unknown }).start === 'function') {
      // A prepared Query command (mysql2's pool.query builds these): bound it in place.
      const command = sql as { timeout?: number; onResult?: Callback };
      command.timeout ??= queryMs;
      if (command.onResult) command.onResult = guard(command.onResult);
      return query.call(this, command, values, callback);
    }
    const options = typeof sql === 'string' ? { sql } : { ...(sql as object) };
    (options as { timeout?: number }).timeout ??= queryMs;
    return query.call(this, options, values, typeof callback === 'function' ? guard(callback as Callback) : callback);
  };
}

/** Closes the connection at once: it leaves the pool, and its socket is not kept half-open. */
function destroy(connection: PoolConnection): void {
  connection.destroy();
  (connection as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
}
