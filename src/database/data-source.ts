import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PoolOptions } from 'mysql2';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config.js';
import { AppMetaEntity } from './app-meta.entity.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { HandlerChangeEntity } from '../cache-manager/handler-change.entity.js';
import { ApiKeyEntity } from '../api-keys/api-key.entity.js';
import { InitialSchema1763800000000 } from './migrations/1763800000000-initial-schema.js';
import { Dispatch1763900000000 } from './migrations/1763900000000-dispatch.js';
import { DropUnusedIndexes1764000000000 } from './migrations/1764000000000-drop-unused-indexes.js';
import { DeliveriesByHandlerAndTime1764100000000 } from './migrations/1764100000000-deliveries-by-handler-and-time.js';
import { ExactKeysAndLargeHeaders1764200000000 } from './migrations/1764200000000-exact-keys-and-large-headers.js';
import { DeliveriesHoldsOrder1764300000000 } from './migrations/1764300000000-deliveries-holds-order.js';
import { HandlerFlowControl1764400000000 } from './migrations/1764400000000-handler-flow-control.js';
import { HandlerPauseEntity } from '../handlers/handler-pause.entity.js';
import { WiderSecretColumns1764310000000 } from './migrations/1764310000000-wider-secret-columns.js';
import { HandlerFilters1764320000000 } from './migrations/1764320000000-handler-filters.js';
import { TargetCredentials1764340000000 } from './migrations/1764340000000-target-credentials.js';
import { AuditLog1764360000000 } from './migrations/1764360000000-audit-log.js';
import { EventTraceParent1764900000000 } from './migrations/1764900000000-event-trace-parent.js';
import { ExecutionLogFilters1765100000000 } from './migrations/1765100000000-execution-log-filters.js';
import { ExecutionLogsByDay1765500000000 } from './migrations/1765500000000-execution-logs-by-day.js';
import { CircuitFailureRate1765600000000 } from './migrations/1765600000000-circuit-failure-rate.js';
import { PauseAnnouncements1765700000000 } from './migrations/1765700000000-pause-announcements.js';
import { LogIndexesNameTheId1765800000000 } from './migrations/1765800000000-log-indexes-name-the-id.js';
import { LeanerDeliveryIndexes1765900000000 } from './migrations/1765900000000-leaner-delivery-indexes.js';
import { IdsByTime1766000000000 } from './migrations/1766000000000-ids-by-time.js';
import { ExecutionLogsById1766100000000 } from './migrations/1766100000000-execution-logs-by-id.js';

/** Every entity, listed explicitly (no globs): the app, the CLI and the tests share this list. */
export const ENTITIES = [HandlerEntity, HandlerChangeEntity, ApiKeyEntity, AppMetaEntity, HandlerPauseEntity];

/** Every migration, in order. */
export const MIGRATIONS = [
  InitialSchema1763800000000,
  Dispatch1763900000000,
  DropUnusedIndexes1764000000000,
  DeliveriesByHandlerAndTime1764100000000,
  ExactKeysAndLargeHeaders1764200000000,
  DeliveriesHoldsOrder1764300000000,
  WiderSecretColumns1764310000000,
  HandlerFilters1764320000000,
  TargetCredentials1764340000000,
  AuditLog1764360000000,
  HandlerFlowControl1764400000000,
  EventTraceParent1764900000000,
  ExecutionLogFilters1765100000000,
  ExecutionLogsByDay1765500000000,
  CircuitFailureRate1765600000000,
  PauseAnnouncements1765700000000,
  LogIndexesNameTheId1765800000000,
  LeanerDeliveryIndexes1765900000000,
  IdsByTime1766000000000,
  ExecutionLogsById1766100000000,
];

/**
 * The one place that turns configuration into TypeORM options, used by the Nest app,
 * `ormconfig.ts` (TypeORM CLI) and the key-management script.
 */
export function buildDataSourceOptions(database: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each' as const,
    synchronize: false,
    // TypeORM's own logger would print failed statements with their parameters (signing
    // secrets, for one); errors are logged by the service, without parameters.
    logging: false,
  };
  if (database.type === 'sqlite') {
    // The database holds the handlers' signing secrets: a folder we create is for its owner only.
    if (database.path !== ':memory:') mkdirSync(dirname(database.path), { recursive: true, mode: 0o700 });
    return {
      ...common,
      type: 'better-sqlite3',
      database: database.path,
      enableWAL: true,
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        // FULL (default): an accepted event survives power loss, not only a process crash.
        // NORMAL: survives a crash of the process, may lose the last commits on power loss.
        db.pragma(`synchronous = ${database.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        db.pragma('busy_timeout = 5000');
        db.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: database.flavor,
    url: database.url,
    timezone: 'Z',
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: false,
    // A dead server is noticed in seconds, not minutes; the pool reconnects by itself.
    connectTimeout: 5000,
    extra: { connectionLimit: 10, enableKeepAlive: true, keepAliveInitialDelay: 10_000 },
  };
}

/**
 * The mysql2 pool of script transactions (DirectSql.scriptTransaction): the same server,
 * account and session settings as the DataSource's pool above, and more than one statement per
 * text. Only DirectSql's fixed texts with `?` parameters run on it; a value never becomes SQL
 * text, so a second statement cannot come from one. A few connections: at most two ingest
 * writes are in flight per instance (src/events/ingest.service.ts).
 */
export function scriptPoolOptions(database: Extract<DatabaseConfig, { type: 'mysql' }>): PoolOptions {
  return {
    uri: database.url,
    timezone: 'Z',
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: false,
    connectTimeout: 5000,
    connectionLimit: 4,
    enableKeepAlive: true,
    keepAliveInitialDelay: 10_000,
    multipleStatements: true,
  };
}
