import { Global, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import type BetterSqlite3 from 'better-sqlite3';
import { createPool } from 'mysql2';
import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { boundMysqlPool } from './bounded-pool.js';
import { scriptPoolOptions } from './data-source.js';
import { isMysql } from './sql.js';

export type Row = Record<string, unknown>;

/** One statement of a script transaction (DirectSql.scriptTransaction). */
export interface SqlStatement {
  sql: string;
  params: readonly unknown[];
}

/** What one statement of a script transaction answers: a write's header, or a read's rows. */
export type ScriptResult = ResultSetHeader | Row[];

type DedicatedSession = MysqlSession & { close(): void; destroy(): void };

/** A connection of the MySQL pool with promise-returning calls. */
export interface MysqlSession {
  /** Rows of a SELECT, or the result header of a write. */
  query<T = Row[]>(sql: string, params?: readonly unknown[]): Promise<T>;
  write(sql: string, params?: readonly unknown[]): Promise<ResultSetHeader>;
}

/**
 * Straight access to the database driver under the DataSource, for the hot path (ingest,
 * claim, outcome writes), where TypeORM's per-query machinery costs more than the SQL.
 *
 * SQLite: better-sqlite3 statements, prepared once and kept; a transaction is a synchronous
 * function, so nothing else can run statements inside it.
 * MySQL/MariaDB: connections taken from the DataSource's own mysql2 pool, on which this class
 * puts the bounds of DATABASE_QUERY_TIMEOUT_MS and DATABASE_ACQUIRE_TIMEOUT_MS for every user
 * of the pool (see bounded-pool.ts): it is the one provider every instance of the app creates
 * right after the DataSource, before any request.
 */
@Injectable()
export class DirectSql implements OnApplicationShutdown {
  readonly mysql: boolean;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private sqliteTransaction: ((work: () => unknown) => unknown) | null = null;
  private readonly dedicated = new Set<PoolConnection>();
  /** The READ COMMITTED connections not in use (transactionReadCommitted). */
  private readCommitted: DedicatedSession[] = [];
  /** The pool of script transactions (scriptTransaction), opened on first use. */
  private scriptPool: Pool | null = null;
  private closed = false;
  /** SQLite at `synchronous=FULL` (SQLITE_SYNCHRONOUS; src/database/data-source.ts sets it at open): every commit flushes the disk. */
  private readonly sqliteFlushesEachCommit: boolean;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
    this.mysql = isMysql(dataSource);
    this.sqliteFlushesEachCommit = config.database.type === 'sqlite' && config.database.synchronous !== 'normal';
    if (this.mysql) boundMysqlPool(this.pool, config.databaseTimeouts);
  }

  // --- SQLite -------------------------------------------------------------------------------

  private get sqlite(): BetterSqlite3.Database {
    return (this.dataSource.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
  }

  /** A prepared statement for this SQL text, compiled on first use. */
  statement(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.sqlite.prepare(sql);
      if (this.statements.size >= 500) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs `work` as one SQLite transaction. Should a TypeORM transaction be open on the shared
   * connection (it awaits between its statements), this waits for it to end first rather
   * than joining it.
   *
   * `flush: false`: at `synchronous=FULL` (the default) the commit is not flushed to disk at
   * once; the next flushed commit carries it (WAL frames reach the disk in order). Only for
   * writes whose loss on power failure (a crash of the process loses nothing) merely makes the
   * queue redo work: a claim's lease, whose delivery is then pending again and delivered again,
   * as after a crash between a claim and its outcome. Every outcome write is flushed, so a
   * recorded call is never older on disk than its claim.
   */
  async transactionSqlite<T>(work: () => T, { flush = true }: { flush?: boolean } = {}): Promise<T> {
    const db = this.sqlite;
    while (db.inTransaction) await new Promise((resolve) => setTimeout(resolve, 1));
    this.sqliteTransaction ??= db.transaction((inner: () => unknown) => inner());
    if (flush || !this.sqliteFlushesEachCommit) return this.sqliteTransaction(work) as T;
    this.statement('PRAGMA synchronous = NORMAL').run();
    try {
      return this.sqliteTransaction(work) as T;
    } finally {
      this.statement('PRAGMA synchronous = FULL').run();
    }
  }

  // --- MySQL / MariaDB ----------------------------------------------------------------------

  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { pool: Pool }).pool;
  }

  private take(): Promise<PoolConnection> {
    return new Promise((resolve, reject) => this.pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))));
  }

  private session(connection: PoolConnection): MysqlSession {
    const run = <T>(sql: string, params: readonly unknown[] = []) =>
      new Promise<T>((resolve, reject) => connection.query(sql, params as unknown[], (error, result) => (error ? reject(error) : resolve(result as T))));
    return { query: run, write: (sql, params) => run<ResultSetHeader>(sql, params) };
  }

  /** Runs `work` in one transaction on a pooled connection (the server's isolation level). */
  async transactionMysql<T>(work: (session: MysqlSession) => Promise<T>): Promise<T> {
    return this.onPooledConnection((session) => inTransaction(session, work));
  }

  /**
   * Runs `work` in one transaction at READ COMMITTED, on connections kept out of the pool and
   * set to that level once (claims and outcome writes: they take no gap locks that would hold
   * up ingest, and pay no round trip to set the level). A connection that broke is dropped;
   * after an ordinary error (a bad row) it is kept.
   */
  async transactionReadCommitted<T>(work: (session: MysqlSession) => Promise<T>): Promise<T> {
    const connection = this.readCommitted.pop() ?? (await this.dedicatedMysql(['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED']));
    let broken = false;
    try {
      return await inTransaction(connection, work);
    } catch (error) {
      broken = Boolean((error as { fatal?: boolean }).fatal);
      throw error;
    } finally {
      if (broken) connection.destroy();
      else if (this.closed) connection.close();
      else this.readCommitted.push(connection);
    }
  }

  /**
   * Runs `statements` as one transaction in a single round trip (MySQL/MariaDB): START
   * TRANSACTION, the statements and COMMIT go to the server as one text, and the answer comes
   * back once; answers each statement's result in order (a write's header, a read's rows).
   * Where each statement of a transaction would otherwise cost a trip there and back (a packet
   * written, the server woken, an answer read and parsed), the whole of it costs one. When a
   * statement fails the server runs none after it: the transaction is rolled back and the error
   * thrown.
   *
   * `then`: statements that depend on the first ones' results (the lease of the rows a locking
   * read found) make a second trip, with COMMIT; their results follow the first ones'.
   *
   * These transactions run at READ COMMITTED, set once per connection as for
   * transactionReadCommitted: the locking reads of outcome writes take no gap locks that would
   * hold up ingest, and ingest's INSERTs read nothing, so the level changes nothing for them.
   *
   * The texts are the service's own, with `?` parameters; they run on connections of a pool of
   * their own (scriptPoolOptions, src/database/data-source.ts), the only ones that accept more
   * than one statement per text: TypeORM's pool, which runs everything else, does not.
   */
  async scriptTransaction(statements: readonly SqlStatement[], { then }: { then?: (results: ScriptResult[]) => SqlStatement[] } = {}): Promise<ScriptResult[]> {
    if (statements.length === 0) throw new Error('A script transaction needs at least one statement');
    const pool = this.scripts();
    const connection = await new Promise<PoolConnection>((resolve, reject) => pool.getConnection((error, taken) => (error ? reject(error) : resolve(taken))));
    const session = this.session(connection);
    try {
      const first = await script(session, ['START TRANSACTION', ...statements.map((statement) => statement.sql), ...(then ? [] : ['COMMIT'])], statements);
      const results = first.slice(1, 1 + statements.length);
      if (!then) return results;
      const more = then(results);
      if (more.length === 0) {
        await session.query('COMMIT');
        return results;
      }
      const second = await script(session, [...more.map((statement) => statement.sql), 'COMMIT'], more);
      return [...results, ...second.slice(0, more.length)];
    } catch (error) {
      if (!(error as { fatal?: boolean }).fatal) await session.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
  }

  private scripts(): Pool {
    if (this.scriptPool) return this.scriptPool;
    if (this.config.database.type !== 'mysql') throw new Error('Script transactions are for MySQL/MariaDB');
    // After shutdown nothing opens connections again.
    if (this.closed) throw new Error('The database connections are closed (shutting down)');
    this.scriptPool = createPool(scriptPoolOptions(this.config.database));
    // Queued on each new connection before the pool hands it out, so it runs before any transaction;
    // should it fail, the connection is closed (and the statement queued behind it fails with it).
    this.scriptPool.on('connection', (connection) =>
      connection.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', (error) => {
        if (error) connection.destroy();
      }),
    );
    boundMysqlPool(this.scriptPool, this.config.databaseTimeouts);
    return this.scriptPool;
  }

  /** One read outside a transaction, on either database: SQLite's prepared statement, or a pooled MySQL/MariaDB connection. */
  async rows(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.mysql ? this.queryMysql<Row[]>(sql, params) : (this.statement(sql).all(...params) as Row[]);
  }

  /** One statement on any pooled connection, outside a transaction. */
  async queryMysql<T = Row[]>(sql: string, params: readonly unknown[] = []): Promise<T> {
    return this.onPooledConnection((session) => session.query<T>(sql, params));
  }

  /** Runs `work` on a connection of the pool, given back afterwards. */
  async onPooledConnection<T>(work: (session: MysqlSession) => Promise<T>): Promise<T> {
    const connection = await this.take();
    try {
      return await work(this.session(connection));
    } finally {
      connection.release();
    }
  }

  /** A connection kept out of the pool, prepared by `setup` once. `close` gives it back; after an error, `destroy` drops it. */
  private async dedicatedMysql(setup: string[]): Promise<DedicatedSession> {
    const connection = await this.take();
    this.dedicated.add(connection);
    const session = this.session(connection);
    try {
      for (const statement of setup) await session.query(statement);
    } catch (error) {
      this.dedicated.delete(connection);
      connection.destroy();
      throw error;
    }
    return {
      ...session,
      close: () => {
        if (this.dedicated.delete(connection)) connection.release();
      },
      destroy: () => {
        if (this.dedicated.delete(connection)) connection.destroy();
      },
    };
  }

  onApplicationShutdown(): void {
    this.closed = true;
    this.readCommitted = [];
    for (const connection of this.dedicated) connection.release();
    this.dedicated.clear();
    this.scriptPool?.end(() => undefined);
    this.scriptPool = null;
  }
}

/**
 * The one transaction wrapper of the MySQL/MariaDB paths: START TRANSACTION, `work`, COMMIT;
 * ROLLBACK and the error again if anything fails.
 */
async function inTransaction<T>(session: MysqlSession, work: (session: MysqlSession) => Promise<T>): Promise<T> {
  try {
    await session.query('START TRANSACTION');
    const result = await work(session);
    await session.query('COMMIT');
    return result;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Sends `texts` as one multi-statement text with the parameters of `statements`; answers one result per text. */
async function script(session: MysqlSession, texts: readonly string[], statements: readonly SqlStatement[]): Promise<ScriptResult[]> {
  // Two texts at least (a transaction's START or COMMIT and a statement): mysql2 answers an array of results.
  return session.query<ScriptResult[]>(texts.join(';\n'), statements.flatMap((statement) => statement.params));
}

/** Makes DirectSql one shared instance for every module. */
@Global()
@Module({ providers: [DirectSql], exports: [DirectSql] })
export class DirectSqlModule {}
