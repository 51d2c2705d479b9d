import { after, before, describe } from 'node:test';
import { databaseKinds, DatabaseKind, TestDatabase } from './databases.js';
import { TestReceiver, type Responder } from './receiver.js';
import { bearer, startApp, TestApp } from './test-app.js';

/** How one suite's app is set up. */
export interface SuiteOptions {
  /** The app's environment (on top of startApp's defaults); a function is called once the database exists. */
  env?: Record<string, string> | ((db: TestDatabase) => Record<string, string>);
  /** The suite's name in brackets, when it is more than the database kind's ("mysql utf8mb4_general_ci"). */
  label?: string;
  /** Run on this database kind only. */
  only?: DatabaseKind['name'];
  /** Another reason to skip the suite on every database (false or undefined to run it). */
  skip?: string | false;
  /** Runs on the fresh database before the app starts (a collation, a folder of scripts). */
  prepare?: (db: TestDatabase) => Promise<void> | void;
  /** Starts the app instead of startApp(db, env). */
  start?: (db: TestDatabase, env: Record<string, string>) => Promise<TestApp>;
}

/**
 * What a suite's tests see: the app (every TestApp member, so `t.http`, `t.key()` read as
 * before), its database, the admin's headers, and receivers and clean-ups that end with the suite.
 * Filled in the suite's first `before` hook: read it inside hooks and tests only.
 */
export class Suite implements TestApp {
  private current?: TestApp;
  private database?: TestDatabase;
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private readonly others: TestApp[] = [];
  private readonly beforeCloses: (() => Promise<void> | void)[] = [];
  /** Every receiver started with receiver(), in order. */
  readonly receivers: TestReceiver[] = [];

  constructor(readonly kind: DatabaseKind) {}

  private get started(): TestApp {
    if (!this.current) throw new Error('the suite app is not started: read it inside a hook or a test');
    return this.current;
  }
  get db(): TestDatabase {
    if (!this.database) throw new Error('the suite database does not exist yet');
    return this.database;
  }
  get app() {
    return this.started.app;
  }
  get config() {
    return this.started.config;
  }
  get url() {
    return this.started.url;
  }
  get adminKey() {
    return this.started.adminKey;
  }
  get http() {
    return this.started.http;
  }
  get contract() {
    return this.started.contract;
  }
  /** The admin key's Authorization header. */
  get admin(): Record<string, string> {
    return bearer(this.started.adminKey);
  }
  key(...scopes: Parameters<TestApp['key']>): Promise<string> {
    return this.started.key(...scopes);
  }
  /** The suite's app is closed by the suite, never by a test. */
  close(): Promise<void> {
    return Promise.reject(new Error('the suite closes its app itself'));
  }

  /** A receiver that stops when the suite ends. */
  async receiver(responder?: Responder): Promise<TestReceiver> {
    const r = await new TestReceiver(responder).start();
    this.receivers.push(r);
    this.cleanup(() => r.stop());
    return r;
  }
  /** Another instance on the same database (its own env), closed before the suite's app. */
  async startAnother(env: Record<string, string> = {}): Promise<TestApp> {
    const other = await startApp(this.db, env);
    this.others.push(other);
    return other;
  }
  /** Runs before the apps close (a cut network restored, so that closing does not wait on it). */
  beforeClose(fn: () => Promise<void> | void): void {
    this.beforeCloses.push(fn);
  }
  /** Runs after the app has closed and before the database is dropped. */
  cleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** @internal */
  async setUp(options: SuiteOptions): Promise<void> {
    this.database = await this.kind.create();
    await options.prepare?.(this.database);
    const env = typeof options.env === 'function' ? options.env(this.database) : (options.env ?? {});
    this.current = await (options.start ?? startApp)(this.database, env);
  }

  /** @internal Closes every app, runs the clean-ups, drops the database: each step runs whatever failed before it. */
  tearDown(): Promise<void> {
    return runEvery([
      ...this.beforeCloses,
      ...this.others.reverse().map((other) => () => other.close()),
      () => this.current?.close(),
      ...this.cleanups,
      () => this.database?.drop(),
    ]);
  }
}

/** Runs every step in order, even after one fails; then throws what failed (one error, or all of them). */
export async function runEvery(steps: readonly (() => unknown)[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} clean-up steps failed`);
}

const kinds = await databaseKinds();

/**
 * One suite on one database: `describe("<title> [<label>]")`, skipped when the database is not
 * reachable; before: create the database and start the app; after: close it and drop the database.
 */
export function describeApp(title: string, kind: DatabaseKind, options: SuiteOptions, body: (t: Suite) => void): void {
  describe(`${title} [${options.label ?? kind.name}]`, { skip: kind.skip || options.skip }, () => {
    const suite = new Suite(kind);
    before(() => suite.setUp(options));
    after(() => suite.tearDown());
    body(suite);
  });
}

/** The same suite on every test database (SQLite, then MySQL/MariaDB): see describeApp. */
export function forEachDatabase(title: string, options: SuiteOptions, body: (t: Suite) => void): void {
  for (const kind of kinds) {
    if (options.only && kind.name !== options.only) continue;
    describeApp(title, kind, options, body);
  }
}

/** The test databases, for files that vary a suite by more than the database (see describeApp). */
export const testDatabaseKinds = (): readonly DatabaseKind[] => kinds;
