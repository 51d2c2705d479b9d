import { rmSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { Module } from '@nestjs/common';
import { AppModule } from '../../src/app.module.js';
import { ConsoleModule } from '../../src/console/console.module.js';
import type { AppConfig } from '../../src/config/app-config.js';
import { DatabaseSuite, runEvery, testDatabaseKinds } from './suite.js';
import { testConfig } from './test-app.js';

@Module({})
class NoConsoleModule {}

/** A provider of the application replaced for a suite (e.g. the Clock, to put the time forward). */
export interface ProviderOverride {
  provide: abstract new (...args: never[]) => unknown;
  useValue: unknown;
}

/**
 * The service tier: the application's modules (AppModule) in a Nest testing module, without
 * HTTP, against a fresh database. Tests take services from it (`s.get(DeliveryQueue)`).
 * Filled in the suite's first `before` hook: read it inside hooks and tests only.
 */
export class ServiceSuite extends DatabaseSuite {
  private testing?: TestingModule;
  private settings?: ReturnType<typeof testConfig>;

  get module(): TestingModule {
    if (!this.testing) throw new Error('the testing module is not ready: read it inside a hook or a test');
    return this.testing;
  }
  get config(): AppConfig {
    return this.settings!.config;
  }
  /** A provider of the application (a service, the DataSource). */
  get<T>(token: abstract new (...args: never[]) => T): T {
    return this.module.get(token as never) as T;
  }

  /** @internal */
  async setUp(env: Record<string, string>, overrides: ProviderOverride[] = []): Promise<void> {
    this.database = await this.kind.create();
    this.settings = testConfig(this.database, env);
    let builder = Test.createTestingModule({ imports: [AppModule.register(this.settings.config)] })
      // The operator console is static pages and a route on the HTTP server: there is none here.
      .overrideModule(ConsoleModule)
      .useModule(NoConsoleModule);
    for (const { provide, useValue } of overrides) builder = builder.overrideProvider(provide).useValue(useValue);
    this.testing = await builder.compile();
    await this.testing.init();
  }

  /** @internal Closes the module, runs the clean-ups, removes the work folder, drops the database. */
  tearDown(): Promise<void> {
    return runEvery([
      () => this.testing?.close(),
      ...this.cleanups,
      () => this.settings && rmSync(this.settings.workDir, { recursive: true, force: true }),
      () => this.database?.drop(),
    ]);
  }
}

/**
 * The same service-tier suite on every test database: `describe("<title> [sqlite]")`, then
 * `[mysql]`. The instance is API-only unless `env` says otherwise, so no worker of its own
 * claims what the tests put in the queue.
 */
export function forEachDatabaseModule(title: string, env: Record<string, string>, body: (s: ServiceSuite) => void, overrides: ProviderOverride[] = []): void {
  for (const kind of testDatabaseKinds()) {
    describe(`${title} [${kind.name}]`, { skip: kind.skip }, () => {
      const suite = new ServiceSuite(kind);
      before(() => suite.setUp({ INSTANCE_ROLE: 'api', ...env }, overrides));
      after(() => suite.tearDown());
      body(suite);
    });
  }
}
