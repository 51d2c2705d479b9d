import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { databaseKinds, DatabaseKind, TestDatabase } from './databases.js';
import { TestReceiver, type Responder } from './receiver.js';
import { kill, Running, startService } from './service-process.js';
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
  /**
   * Starts the app instead of startApp(db, env); `false`: no app at the start, the tests start
   * what they need (t.restart for an app of their own, t.service for the compiled service).
   */
  start?: false | ((db: TestDatabase, env: Record<string, string>) => Promise<TestApp>);
}

/**
 * What every suite on one database has: the database, and receivers and clean-ups that end with
 * the suite. Filled in the suite's first `before` hook: read it inside hooks and tests only.
 */
export abstract class DatabaseSuite {
  protected database?: TestDatabase;
  protected readonly cleanups: (() => Promise<void> | void)[] = [];
  /** Every receiver started with receiver(), in order. */
  readonly receivers: TestReceiver[] = [];

  constructor(readonly kind: DatabaseKind) {}

  get db(): TestDatabase {
    if (!this.database) throw new Error('the suite database does not exist yet');
    return this.database;
  }
  /** A receiver that stops when the suite ends. */
  async receiver(responder?: Responder): Promise<TestReceiver> {
    const r = await new TestReceiver(responder).start();
    this.receivers.push(r);
    this.cleanup(() => r.stop());
    return r;
  }
  /** Runs after the app has closed and before the database is dropped. */
  cleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }
}

/**
 * What a suite's tests see: the app (every TestApp member, so `t.http`, `t.key()` read as
 * before), its database, the admin's headers, and receivers and clean-ups that end with the suite.
 */
export class Suite extends DatabaseSuite implements TestApp {
  private current?: TestApp;
  private options: SuiteOptions = {};
  private folder?: string;
  private others: TestApp[] = [];
  private services: Running[] = [];
  private readonly beforeCloses: (() => Promise<void> | void)[] = [];
  /** The first admin key of every app and service the suite starts (BOOTSTRAP_ADMIN_KEY), unless its env says otherwise. */
  private readonly bootstrapKey = `test_admin_${randomBytes(16).toString('hex')}`;

  private get started(): TestApp {
    if (!this.current) throw new Error('the suite app is not started: read it inside a hook or a test (or start one: t.restart)');
    return this.current;
  }
  /** A folder of the suite's own (the working directory of its services), removed when the suite ends. */
  get dir(): string {
    return (this.folder ??= mkdtempSync(join(tmpdir(), 'prov-suite-')));
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
    return this.current?.adminKey ?? this.bootstrapKey;
  }
  get http() {
    return this.started.http;
  }
  get contract() {
    return this.started.contract;
  }
  /** The admin key's Authorization header. */
  get admin(): Record<string, string> {
    return bearer(this.adminKey);
  }
  key(...scopes: Parameters<TestApp['key']>): Promise<string> {
    return this.started.key(...scopes);
  }
  /** The suite's app is closed by the suite, never by a test (t.restart answers one a test may close). */
  close(): Promise<void> {
    return Promise.reject(new Error('the suite closes its app itself'));
  }

  /** Another instance on the same database (its own env), closed before the suite's app unless a test closed it. */
  async startAnother(env: Record<string, string> = {}): Promise<TestApp> {
    const other = closesOnce(await startApp(this.db, { BOOTSTRAP_ADMIN_KEY: this.bootstrapKey, ...env }));
    this.others.push(other);
    return other;
  }
  /**
   * A fresh database and app in place of the suite's, for a test that configures the app its own
   * way or needs tables of its own: every app on the previous database is closed and the database
   * dropped. The app has the suite's env with `env` on top; the test may close it itself.
   */
  async restart(env: Record<string, string> = {}): Promise<TestApp> {
    await this.closeApps();
    await this.database?.drop();
    this.database = await this.kind.create();
    this.current = closesOnce(await startApp(this.database, this.envWith(env)));
    return this.current;
  }
  /**
   * The compiled service (dist/src/main.js) as its own process, in the suite's folder, on the
   * suite's database; killed when the suite ends unless a test stopped it.
   */
  async service(name: string, env: Record<string, string> = {}): Promise<Running> {
    const running = await startService(name, this.dir, { DATABASE_URL: this.db.url, BOOTSTRAP_ADMIN_KEY: this.bootstrapKey, ...env });
    this.services.push(running);
    return running;
  }
  /** Runs before the apps close (a cut network restored, so that closing does not wait on it). */
  beforeClose(fn: () => Promise<void> | void): void {
    this.beforeCloses.push(fn);
  }

  /** The suite's env (options.env), with `env` on top. */
  private envWith(env: Record<string, string>): Record<string, string> {
    const base = typeof this.options.env === 'function' ? this.options.env(this.db) : (this.options.env ?? {});
    return { BOOTSTRAP_ADMIN_KEY: this.bootstrapKey, ...base, ...env };
  }

  private async closeApps(): Promise<void> {
    const others = this.others.reverse();
    const current = this.current;
    this.others = [];
    this.current = undefined;
    await runEvery([...others.map((other) => () => other.close()), () => current?.close()]);
  }

  /** @internal */
  async setUp(options: SuiteOptions): Promise<void> {
    this.options = options;
    this.database = await this.kind.create();
    await options.prepare?.(this.database);
    if (options.start === false) return;
    const env = this.envWith({});
    this.current = await (options.start ?? startApp)(this.database, env);
  }

  /** @internal Stops every service, closes every app, runs the clean-ups, drops the database: each step runs whatever failed before it. */
  tearDown(): Promise<void> {
    return runEvery([
      ...this.beforeCloses,
      ...this.services.map((running) => () => kill(running)),
      () => this.closeApps(),
      ...this.cleanups,
      () => this.database?.drop(),
      () => this.folder && rmSync(this.folder, { recursive: true, force: true }),
    ]);
  }
}

/** The app, with a close() that a test and the suite may both call: the second call waits for the first. */
function closesOnce(app: TestApp): TestApp {
  let closing: Promise<void> | undefined;
  const close = app.close.bind(app);
  return Object.assign(app, { close: () => (closing ??= close()) });
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
