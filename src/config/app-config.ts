import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { CronTime } from 'cron';
import { ConfigError, EnvInput, validateEnvironment } from './environment.js';
import { OutboundMode, parseNetworkList } from '../common/network-policy.js';
import { DEFAULT_RETRY_SCHEDULE_MS, parseDuration, parseDurationList } from '../dispatcher/retry-policy.js';
import { parseSecretKey } from '../secrets/secret-box.js';

/** LOG_LEVEL: Nest's level names, most to least severe; `silent` writes nothing at all. */
export type LogLevelName = 'silent' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';

export type DatabaseConfig =
  | { readonly type: 'sqlite'; readonly path: string; readonly synchronous?: 'full' | 'normal' }
  /** flavor `mariadb` (from a mariadb:// URL) lets TypeORM read MariaDB's schema dialect correctly. */
  | { readonly type: 'mysql'; readonly flavor: 'mysql' | 'mariadb'; readonly url: string };

/** Networks never reached unless the operator overrides OUTBOUND_DENY_NETWORKS. */
export const DEFAULT_DENIED_NETWORKS = Object.freeze([
  '0.0.0.0/8', // "this network"; 0.0.0.0 reaches the local host on Linux
  '169.254.0.0/16', // IPv4 link-local, including cloud metadata 169.254.169.254
  '100.100.100.200/32', // Alibaba Cloud metadata
  'fe80::/10', // IPv6 link-local
  'fd00:ec2::254/128', // AWS IPv6 metadata
]);

export const DEFAULTS = Object.freeze({
  port: 3000,
  host: '0.0.0.0',
  databaseUrl: 'sqlite:./data/provisioning.sqlite',
  adminKeyFile: './data/admin-key.txt',
  /** On MySQL/MariaDB; on SQLite the key file is `secrets.key` in the database's folder. */
  secretsKeyFile: './data/secrets.key',
  cacheRefreshCron: '*/5 * * * *',
  cacheSyncIntervalMs: 1000,
  scriptsDir: './scripts',
  logLevel: 'log' as LogLevelName,
  bodyLimitBytes: 1024 * 1024,
  maxJsonDepth: 64,
  databaseQueryTimeoutMs: 10_000,
  databaseAcquireTimeoutMs: 5_000,
  readinessTimeoutMs: 2_000,
  maxBatchEvents: 500,
  maxDataBytes: 64 * 1024,
  ingestRateLimit: 10_000,
  ingestRateWindowMs: 1000,
  dispatchConcurrency: 16,
  dispatchPollIntervalMs: 250,
  dispatchLeaseMs: 30_000,
  responseBodyCapBytes: 4096,
  secretRotationOverlapMs: 24 * 3600_000,
  autoDisableAfterMs: 72 * 3600_000,
  circuitFailureThreshold: 10,
  circuitCooldownMs: 30_000,
  circuitCooldownMaxMs: 10 * 60_000,
  circuitRateWindowMs: 60_000,
  circuitRateMinCalls: 20,
  logRetentionDays: 30,
  logCleanupCron: '17 * * * *',
  pauseCheckCron: '*/5 * * * * *',
  logSearchWindowRows: 10_000,
  retentionBatchSize: 2000,
  retentionPauseMs: 10,
  shutdownGraceMs: 10_000,
  decisionBudgetMs: 10_000,
  filterMaxBytes: 4096,
  filterMaxDepth: 10,
});

export type InstanceRole = 'api' | 'worker' | 'both';

/** The validated, typed configuration. Built once at start by `loadConfig`. */
export class AppConfig {
  readonly env!: 'development' | 'production' | 'test';
  readonly http!: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    /** Deepest nesting of arrays and objects accepted in a JSON body. */
    readonly maxJsonDepth: number;
  };
  readonly database!: DatabaseConfig;
  /** Bounds on waiting for the database (MySQL/MariaDB; SQLite is in-process). */
  readonly databaseTimeouts!: {
    readonly queryMs: number;
    readonly acquireMs: number;
    /** The readiness probe's own, shorter bound. */
    readonly readinessMs: number;
  };
  readonly auth!: { readonly bootstrapAdminKey?: string; readonly adminKeyFile: string };
  /** The keys of secrets at rest (src/secrets/): the text of the keys, validated as base64 of 32 bytes. */
  readonly secrets!: {
    /** SECRETS_KEY: encrypts, and decrypts what it encrypted. Unset: the key in `keyFile` (generated on first start). */
    readonly key?: string;
    /** SECRETS_KEY_PREVIOUS: only decrypt (values written before a rotation), in the order given. */
    readonly previousKeys: readonly string[];
    /** Where the key is kept when SECRETS_KEY is unset; null for an in-memory SQLite database (a key in memory only). */
    readonly keyFile: string | null;
  };
  readonly cache!: { readonly refreshCron: string; readonly syncIntervalMs: number };
  readonly scripts!: {
    readonly enabled: boolean;
    readonly dir: string;
    /** The unprivileged user scripts run as (name or uid[:gid]); unset runs them as the service's user. */
    readonly runAsUser?: string;
  };
  readonly log!: { readonly level: LogLevelName; readonly format: 'text' | 'json' };
  readonly outbound!: {
    readonly mode: OutboundMode;
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    /** Resolvers asked for handler host names instead of the system's (ip or ip:port). */
    readonly dnsServers: readonly string[];
  };
  readonly ingest!: {
    readonly maxBatchEvents: number;
    readonly maxDataBytes: number;
    /** Requests per window per API key on the ingest routes; 0 turns the limit off. */
    readonly rateLimit: number;
    readonly rateWindowMs: number;
  };
  readonly dispatch!: {
    readonly role: InstanceRole;
    readonly concurrency: number;
    readonly pollIntervalMs: number;
    readonly leaseMs: number;
    readonly retryScheduleMs: readonly number[];
    readonly responseBodyCapBytes: number;
    readonly secretRotationOverlapMs: number;
    /** 0 turns automatic disabling off. */
    readonly autoDisableAfterMs: number;
    readonly shutdownGraceMs: number;
    /**
     * Deliveries of one handler this worker may hold at once, claimed or in flight, when the
     * handler sets no cap of its own (src/dispatcher/flow-control.ts).
     */
    readonly handlerMaxConcurrency: number;
    /** HTTP calls sent from a worker thread of their own (src/calls/call-thread.ts); by default with SQLite only. */
    readonly callThread: boolean;
    readonly circuit: {
      /** Consecutive failed calls that open a handler's circuit; 0 turns the breaker off. */
      readonly failureThreshold: number;
      /** The first cool-down; it doubles after each failed probe, up to `cooldownMaxMs`. */
      readonly cooldownMs: number;
      readonly cooldownMaxMs: number;
      /**
       * The failure-rate rule: the circuit also opens once at least this share of the calls in a
       * window of `rateWindowMs` failed, `rateMinCalls` calls at least; 0 turns the rule off.
       */
      readonly failureRate: number;
      readonly rateWindowMs: number;
      readonly rateMinCalls: number;
    };
  };
  readonly logs!: {
    readonly retentionDays: number;
    readonly cleanupCron: string;
    /** The most rows one page of an execution-log search examines (src/execution-logs/log-search.ts). */
    readonly searchWindowRows: number;
    /** Rows per transaction of retention's batched deletes (events: a quarter as many, with their deliveries). */
    readonly retentionBatchSize: number;
    /** Shortest pause between two batches, so writers get the database; a pause also lasts as long as the batch before it. */
    readonly retentionPauseMs: number;
  };
  /**
   * Pauses and maintenance windows (src/handlers/handler-pauses.service.ts): when each instance
   * looks for those that began or ended by the clock, to emit provisioning.handler.paused / .resumed.
   */
  readonly pauses!: { readonly checkCron: string };
  /** 0: audit rows are kept for ever (they are not removed with the logs). */
  readonly audit!: { readonly retentionMs: number };
  readonly decisions!: { readonly budgetMs: number };
  /** Bounds of a handler's payload filter (src/handlers/handler-filter.ts), checked when it is saved. */
  readonly filters!: { readonly maxBytes: number; readonly maxDepth: number };
  /** Benchmarks only: mount the empty route. */
  readonly bench!: { readonly emptyRoute: boolean };

  constructor(values: AppConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    const raw = url.slice('sqlite:'.length).replace(/^\/\//, '');
    return { type: 'sqlite', path: raw === ':memory:' ? raw : resolve(raw) };
  }
  const flavor = url.startsWith('mariadb:') ? 'mariadb' : 'mysql';
  return { type: 'mysql', flavor, url: url.replace(/^mariadb:/, 'mysql:') };
}

function isResolverAddress(server: string): boolean {
  if (isIP(server) !== 0) return true;
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(server);
  const plain = /^([^:]+):(\d{1,5})$/.exec(server);
  const match = bracketed ?? plain;
  return match !== null && isIP(match[1]!) !== 0 && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
}

function withSqliteSync(database: DatabaseConfig, synchronous: string | undefined): DatabaseConfig {
  if (database.type !== 'sqlite' || synchronous === undefined) return database;
  return { ...database, synchronous: synchronous as 'full' | 'normal' };
}

/**
 * The keys of secrets at rest. Values are checked here (never echoed); a key file defaults to
 * `secrets.key` beside the SQLite database, or ./data/secrets.key on MySQL/MariaDB, and never to
 * the database itself: a key stored with the values it protects would protect nothing.
 */
function secretsConfig(
  key: string | undefined,
  previous: string | undefined,
  file: string | undefined,
  database: DatabaseConfig,
  problems: string[],
): AppConfig['secrets'] {
  // SECRETS_KEY's form is checked with the other variables (environment.ts); the previous keys here.
  const previousKeys = (previous ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  previousKeys.forEach((entry, index) => {
    if (parseSecretKey(entry) === null) problems.push(`SECRETS_KEY_PREVIOUS: key ${index + 1} is not base64 of 32 bytes (openssl rand -base64 32)`);
  });
  let keyFile: string | null;
  if (file !== undefined) keyFile = resolve(file);
  else if (database.type === 'sqlite') keyFile = database.path === ':memory:' ? null : join(dirname(database.path), 'secrets.key');
  else keyFile = resolve(DEFAULTS.secretsKeyFile);
  return { key, previousKeys, keyFile };
}

/**
 * CIRCUIT_FAILURE_RATE: a fraction of the calls, 0 < r <= 1 (`0.5`: half of them); unset or 0
 * turns the rule off. Kept to four decimal places, the precision the rule compares with.
 */
function failureRate(value: string | undefined, problems: string[]): number {
  if (value === undefined) return 0;
  const rate = /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : Number.NaN;
  if (!(rate >= 0 && rate <= 1)) {
    problems.push('CIRCUIT_FAILURE_RATE: must be a fraction of the calls from 0 to 1 (e.g. 0.5 for half of them; 0 turns the rule off)');
    return 0;
  }
  const rounded = Math.round(rate * 10_000) / 10_000;
  if (rate > 0 && rounded === 0) problems.push('CIRCUIT_FAILURE_RATE: must be at least 0.0001 (or 0 to turn the rule off)');
  return rounded;
}

/** Validates the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(input: EnvInput): AppConfig {
  const { env, problems } = validateEnvironment(input);

  const cron = (name: string, value: string): string => {
    try {
      new CronTime(value);
    } catch {
      problems.push(`${name}: "${value}" is not a valid cron expression`);
    }
    return value;
  };
  const refreshCron = cron('CACHE_REFRESH_CRON', env.CACHE_REFRESH_CRON ?? DEFAULTS.cacheRefreshCron);
  const cleanupCron = cron('LOG_CLEANUP_CRON', env.LOG_CLEANUP_CRON ?? DEFAULTS.logCleanupCron);
  const pauseCheckCron = cron('PAUSE_CHECK_CRON', env.PAUSE_CHECK_CRON ?? DEFAULTS.pauseCheckCron);
  const duration = (name: string, value: string | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (value === '0') return 0;
    try {
      return parseDuration(value);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return fallback;
    }
  };
  let retryScheduleMs: number[] = [...DEFAULT_RETRY_SCHEDULE_MS];
  if (env.RETRY_SCHEDULE !== undefined) {
    try {
      retryScheduleMs = parseDurationList(env.RETRY_SCHEDULE);
    } catch (error) {
      problems.push(`RETRY_SCHEDULE: ${(error as Error).message}`);
    }
  }
  const secretRotationOverlapMs = duration('SECRET_ROTATION_OVERLAP', env.SECRET_ROTATION_OVERLAP, DEFAULTS.secretRotationOverlapMs);
  const autoDisableAfterMs = duration('AUTO_DISABLE_AFTER', env.AUTO_DISABLE_AFTER, DEFAULTS.autoDisableAfterMs);
  const circuitCooldownMs = duration('CIRCUIT_COOLDOWN', env.CIRCUIT_COOLDOWN, DEFAULTS.circuitCooldownMs);
  const circuitCooldownMaxMs = duration('CIRCUIT_COOLDOWN_MAX', env.CIRCUIT_COOLDOWN_MAX, Math.max(DEFAULTS.circuitCooldownMaxMs, circuitCooldownMs));
  if (circuitCooldownMs < 100) problems.push('CIRCUIT_COOLDOWN: must be at least 100ms');
  if (circuitCooldownMaxMs < circuitCooldownMs) problems.push('CIRCUIT_COOLDOWN_MAX: must not be shorter than CIRCUIT_COOLDOWN');
  const circuitFailureRate = failureRate(env.CIRCUIT_FAILURE_RATE, problems);
  const circuitRateWindowMs = duration('CIRCUIT_RATE_WINDOW', env.CIRCUIT_RATE_WINDOW, DEFAULTS.circuitRateWindowMs);
  if (circuitRateWindowMs < 1000) problems.push('CIRCUIT_RATE_WINDOW: must be at least 1s');
  const concurrency = env.DISPATCH_CONCURRENCY ?? DEFAULTS.dispatchConcurrency;
  const auditRetentionMs = duration('AUDIT_RETENTION', env.AUDIT_RETENTION, 0);
  // A trail that forgets within hours is a mistake, not a policy.
  if (auditRetentionMs > 0 && auditRetentionMs < 86_400_000) problems.push('AUDIT_RETENTION: must be at least 1d (or 0 to keep every audit row)');

  const network = (name: string, value: string | undefined, fallback: readonly string[]): string[] => {
    if (value === undefined) return [...fallback];
    try {
      return parseNetworkList(value);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return [];
    }
  };
  const allow = network('OUTBOUND_ALLOW_NETWORKS', env.OUTBOUND_ALLOW_NETWORKS, []);
  const deny = network('OUTBOUND_DENY_NETWORKS', env.OUTBOUND_DENY_NETWORKS, DEFAULT_DENIED_NETWORKS);
  // Without a mode, an allow list means "only these" (allowlist); no allow list means open.
  const outboundMode = (env.OUTBOUND_MODE ?? (allow.length > 0 ? 'allowlist' : 'open')) as OutboundMode;
  if (outboundMode === 'allowlist' && allow.length === 0) {
    problems.push('OUTBOUND_MODE: allowlist needs OUTBOUND_ALLOW_NETWORKS');
  }
  const dnsServers = (env.OUTBOUND_DNS_SERVERS ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  for (const server of dnsServers) {
    if (!isResolverAddress(server)) problems.push(`OUTBOUND_DNS_SERVERS: "${server}" is not an IP address or ip:port`);
  }

  const role = (env.INSTANCE_ROLE ?? 'both') as InstanceRole;
  const database = withSqliteSync(parseDatabaseUrl(env.DATABASE_URL ?? DEFAULTS.databaseUrl), env.SQLITE_SYNCHRONOUS);
  const bodyLimitBytes = env.BODY_LIMIT_BYTES ?? DEFAULTS.bodyLimitBytes;
  const secrets = secretsConfig(env.SECRETS_KEY, env.SECRETS_KEY_PREVIOUS, env.SECRETS_KEY_FILE, database, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return new AppConfig({
    env: (env.NODE_ENV ?? 'development') as AppConfig['env'],
    http: {
      host: env.HOST ?? DEFAULTS.host,
      port: env.PORT ?? DEFAULTS.port,
      bodyLimitBytes,
      maxJsonDepth: env.MAX_JSON_DEPTH ?? DEFAULTS.maxJsonDepth,
    },
    database,
    databaseTimeouts: {
      queryMs: env.DATABASE_QUERY_TIMEOUT_MS ?? DEFAULTS.databaseQueryTimeoutMs,
      acquireMs: env.DATABASE_ACQUIRE_TIMEOUT_MS ?? DEFAULTS.databaseAcquireTimeoutMs,
      readinessMs: env.READINESS_TIMEOUT_MS ?? DEFAULTS.readinessTimeoutMs,
    },
    auth: {
      bootstrapAdminKey: env.BOOTSTRAP_ADMIN_KEY,
      adminKeyFile: resolve(env.ADMIN_KEY_FILE ?? DEFAULTS.adminKeyFile),
    },
    secrets,
    cache: {
      refreshCron,
      syncIntervalMs: env.CACHE_SYNC_INTERVAL_MS ?? DEFAULTS.cacheSyncIntervalMs,
    },
    scripts: {
      enabled: env.SCRIPT_HANDLERS_ENABLED === 'true' || env.SCRIPT_HANDLERS_ENABLED === '1',
      dir: resolve(env.SCRIPTS_DIR ?? DEFAULTS.scriptsDir),
      runAsUser: env.SCRIPT_RUN_AS_USER,
    },
    log: {
      level: (env.LOG_LEVEL ?? DEFAULTS.logLevel) as LogLevelName,
      // Production logs are one JSON object per line unless LOG_FORMAT says otherwise.
      format: (env.LOG_FORMAT ?? (env.NODE_ENV === 'production' ? 'json' : 'text')) as 'text' | 'json',
    },
    outbound: { mode: outboundMode, allow, deny, dnsServers },
    ingest: {
      maxBatchEvents: env.MAX_BATCH_EVENTS ?? DEFAULTS.maxBatchEvents,
      // A data object can never be larger than the body that carries it.
      maxDataBytes: Math.min(env.MAX_DATA_BYTES ?? DEFAULTS.maxDataBytes, bodyLimitBytes),
      rateLimit: env.INGEST_RATE_LIMIT ?? DEFAULTS.ingestRateLimit,
      rateWindowMs: env.INGEST_RATE_WINDOW_MS ?? DEFAULTS.ingestRateWindowMs,
    },
    dispatch: {
      role,
      concurrency,
      pollIntervalMs: env.DISPATCH_POLL_INTERVAL_MS ?? DEFAULTS.dispatchPollIntervalMs,
      leaseMs: env.DISPATCH_LEASE_MS ?? DEFAULTS.dispatchLeaseMs,
      retryScheduleMs,
      responseBodyCapBytes: env.RESPONSE_BODY_CAP_BYTES ?? DEFAULTS.responseBodyCapBytes,
      secretRotationOverlapMs,
      autoDisableAfterMs,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS ?? DEFAULTS.shutdownGraceMs,
      // Half the slots: a target that hangs keeps at most half of a worker's calls waiting.
      handlerMaxConcurrency: env.HANDLER_MAX_CONCURRENCY ?? Math.max(1, Math.floor(concurrency / 2)),
      // Unset: on with SQLite, whose statements share the service's thread with the calls; off
      // with MySQL/MariaDB, where it measured slower with the server on the same cores (BENCHMARKS.md).
      callThread: env.DISPATCH_CALL_THREAD === undefined ? database.type === 'sqlite' : env.DISPATCH_CALL_THREAD === 'true' || env.DISPATCH_CALL_THREAD === '1',
      circuit: {
        failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD ?? DEFAULTS.circuitFailureThreshold,
        cooldownMs: circuitCooldownMs,
        cooldownMaxMs: circuitCooldownMaxMs,
        failureRate: circuitFailureRate,
        rateWindowMs: circuitRateWindowMs,
        rateMinCalls: env.CIRCUIT_RATE_MIN_CALLS ?? DEFAULTS.circuitRateMinCalls,
      },
    },
    logs: {
      retentionDays: env.LOG_RETENTION_DAYS ?? DEFAULTS.logRetentionDays,
      cleanupCron,
      searchWindowRows: env.LOG_SEARCH_WINDOW_ROWS ?? DEFAULTS.logSearchWindowRows,
      retentionBatchSize: env.RETENTION_BATCH_SIZE ?? DEFAULTS.retentionBatchSize,
      retentionPauseMs: env.RETENTION_PAUSE_MS ?? DEFAULTS.retentionPauseMs,
    },
    pauses: { checkCron: pauseCheckCron },
    audit: { retentionMs: auditRetentionMs },
    decisions: { budgetMs: env.DECISION_BUDGET_MS ?? DEFAULTS.decisionBudgetMs },
    filters: { maxBytes: env.FILTER_MAX_BYTES ?? DEFAULTS.filterMaxBytes, maxDepth: env.FILTER_MAX_DEPTH ?? DEFAULTS.filterMaxDepth },
    bench: { emptyRoute: env.BENCH_EMPTY_ROUTE === 'true' || env.BENCH_EMPTY_ROUTE === '1' },
  } as AppConfig);
}
