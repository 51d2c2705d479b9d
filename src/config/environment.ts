import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, validateSync } from 'class-validator';

/**
 * Every environment variable the service reads, with its validation.
 * The service is configured only through these; nothing else reads `process.env`.
 */
export class EnvironmentVariables {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  HOST?: string;

  @IsOptional()
  @Matches(/^(sqlite:.+|mysql:\/\/.+|mariadb:\/\/.+)$/, {
    message: 'DATABASE_URL must be sqlite:<file path> or mysql://user:password@host:port/database',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @IsIn(['full', 'normal'])
  SQLITE_SYNCHRONOUS?: string;

  /** Installed as the first admin key on a fresh database (automated deployments). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_\-.~+/=]{32,256}$/, {
    message: 'BOOTSTRAP_ADMIN_KEY must be 32 to 256 characters of [A-Za-z0-9_-.~+/=]',
  })
  BOOTSTRAP_ADMIN_KEY?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  ADMIN_KEY_FILE?: string;

  /** The key that encrypts secrets stored in the database: base64 of 32 bytes (src/secrets/secret-box.ts). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9+/_-]{43}=?$/, { message: 'SECRETS_KEY must be base64 of 32 bytes (44 characters; openssl rand -base64 32)' })
  SECRETS_KEY?: string;

  /** Earlier keys, still read during a rotation: comma-separated, each checked in app-config.ts. */
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  SECRETS_KEY_PREVIOUS?: string;

  /** Where the generated key is kept (and read from) when SECRETS_KEY is not set. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  SECRETS_KEY_FILE?: string;

  /** Longest wait for one statement's answer on MySQL/MariaDB before it counts as an outage. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_QUERY_TIMEOUT_MS?: number;

  /** Longest wait for a free pooled connection (or a new one) on MySQL/MariaDB. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600000)
  DATABASE_ACQUIRE_TIMEOUT_MS?: number;

  /** Bound of the readiness probe's database check. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60000)
  READINESS_TIMEOUT_MS?: number;

  @IsOptional()
  @IsString()
  CACHE_REFRESH_CRON?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(5000)
  CACHE_SYNC_INTERVAL_MS?: number;

  @IsOptional()
  @IsIn(['true', 'false', '1', '0'], { message: 'SCRIPT_HANDLERS_ENABLED must be true or false' })
  SCRIPT_HANDLERS_ENABLED?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  SCRIPTS_DIR?: string;

  /** The unprivileged user scripts run as: a user name, or uid[:gid]. */
  @IsOptional()
  @Matches(/^([a-z_][a-z0-9_-]{0,31}|\d{1,10}(:\d{1,10})?)$/, {
    message: 'SCRIPT_RUN_AS_USER must be a user name or uid[:gid]',
  })
  SCRIPT_RUN_AS_USER?: string;

  @IsOptional()
  @IsIn(['silent', 'error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL?: string;

  @IsOptional()
  @IsIn(['text', 'json'])
  LOG_FORMAT?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(50 * 1024 * 1024)
  BODY_LIMIT_BYTES?: number;

  /** Deepest nesting of arrays and objects accepted in a JSON body. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(4)
  @Max(1000)
  MAX_JSON_DEPTH?: number;

  @IsOptional()
  @IsString()
  @MaxLength(4000)
  OUTBOUND_ALLOW_NETWORKS?: string;

  @IsOptional()
  @IsString()
  @MaxLength(4000)
  OUTBOUND_DENY_NETWORKS?: string;

  @IsOptional()
  @IsIn(['open', 'strict', 'allowlist'])
  OUTBOUND_MODE?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  OUTBOUND_DNS_SERVERS?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  MAX_BATCH_EVENTS?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(256)
  @Max(50 * 1024 * 1024)
  MAX_DATA_BYTES?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  INGEST_RATE_LIMIT?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3600000)
  INGEST_RATE_WINDOW_MS?: number;

  @IsOptional()
  @IsIn(['api', 'worker', 'both'])
  INSTANCE_ROLE?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(512)
  DISPATCH_CONCURRENCY?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(60000)
  DISPATCH_POLL_INTERVAL_MS?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(3600000)
  DISPATCH_LEASE_MS?: number;

  @IsOptional()
  @IsString()
  RETRY_SCHEDULE?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1048576)
  RESPONSE_BODY_CAP_BYTES?: number;

  @IsOptional()
  @IsString()
  SECRET_ROTATION_OVERLAP?: string;

  @IsOptional()
  @IsString()
  AUTO_DISABLE_AFTER?: string;

  /** HTTP calls sent from a worker thread of their own (src/calls/call-thread.ts); unset: on with SQLite, off with MySQL/MariaDB. */
  @IsOptional()
  @IsIn(['true', 'false', '1', '0'], { message: 'DISPATCH_CALL_THREAD must be true or false' })
  DISPATCH_CALL_THREAD?: string;

  /** Calls in flight (and claimed, waiting) per handler per worker instance; unset: half of DISPATCH_CONCURRENCY. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(512)
  HANDLER_MAX_CONCURRENCY?: number;

  /** Consecutive failed calls that open a handler's circuit; 0 turns the breaker off. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(100000)
  CIRCUIT_FAILURE_THRESHOLD?: number;

  @IsOptional()
  @IsString()
  CIRCUIT_COOLDOWN?: string;

  @IsOptional()
  @IsString()
  CIRCUIT_COOLDOWN_MAX?: string;

  /** The failure-rate rule: the share of a window's calls (0 < r <= 1, checked in app-config.ts) that opens the circuit; unset or 0 turns it off. */
  @IsOptional()
  @IsString()
  @MaxLength(20)
  CIRCUIT_FAILURE_RATE?: string;

  /** The failure-rate rule's window of calls (a duration). */
  @IsOptional()
  @IsString()
  CIRCUIT_RATE_WINDOW?: string;

  /** The fewest calls in a window for the failure-rate rule to judge it. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100000)
  CIRCUIT_RATE_MIN_CALLS?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3650)
  LOG_RETENTION_DAYS?: number;

  @IsOptional()
  @IsString()
  LOG_CLEANUP_CRON?: string;

  /** When each instance looks for maintenance windows and timed pauses that began or ended, to emit their operational events (a cron expression, seconds allowed). */
  @IsOptional()
  @IsString()
  PAUSE_CHECK_CRON?: string;

  /** The most rows one page of an execution-log search examines (error text, or filters no single index serves). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(1_000_000)
  LOG_SEARCH_WINDOW_ROWS?: number;

  /** Audit rows older than this are deleted (on LOG_CLEANUP_CRON); unset or 0 keeps every row. */
  @IsOptional()
  @IsString()
  AUDIT_RETENTION?: string;

  /** Rows deleted per transaction by retention's batched deletes (execution logs, audit rows; events go a quarter as many at a time, with their deliveries). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(100000)
  RETENTION_BATCH_SIZE?: number;

  /** Shortest pause between two batches of a retention run, during which writers have the database (a pause also lasts at least as long as the batch before it). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(60000)
  RETENTION_PAUSE_MS?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600000)
  SHUTDOWN_GRACE_MS?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300000)
  DECISION_BUDGET_MS?: number;

  /** Largest payload filter of one handler, in bytes of its JSON. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(64)
  @Max(16384)
  FILTER_MAX_BYTES?: number;

  /** Deepest nesting of arrays and objects in one handler's payload filter. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(2)
  @Max(32)
  FILTER_MAX_DEPTH?: number;

  /** Benchmarks only: mounts POST /api/v1/bench/empty, the framework's ceiling for ingest. */
  @IsOptional()
  @IsIn(['true', 'false', '1', '0'], { message: 'BENCH_EMPTY_ROUTE must be true or false' })
  BENCH_EMPTY_ROUTE?: string;
}

export const ENV_KEYS = Object.freeze([
  'NODE_ENV',
  'PORT',
  'HOST',
  'DATABASE_URL',
  'SQLITE_SYNCHRONOUS',
  'BOOTSTRAP_ADMIN_KEY',
  'ADMIN_KEY_FILE',
  'SECRETS_KEY',
  'SECRETS_KEY_PREVIOUS',
  'SECRETS_KEY_FILE',
  'DATABASE_QUERY_TIMEOUT_MS',
  'DATABASE_ACQUIRE_TIMEOUT_MS',
  'READINESS_TIMEOUT_MS',
  'CACHE_REFRESH_CRON',
  'CACHE_SYNC_INTERVAL_MS',
  'SCRIPT_HANDLERS_ENABLED',
  'SCRIPTS_DIR',
  'SCRIPT_RUN_AS_USER',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'BODY_LIMIT_BYTES',
  'MAX_JSON_DEPTH',
  'OUTBOUND_ALLOW_NETWORKS',
  'OUTBOUND_DENY_NETWORKS',
  'OUTBOUND_MODE',
  'OUTBOUND_DNS_SERVERS',
  'MAX_BATCH_EVENTS',
  'MAX_DATA_BYTES',
  'INGEST_RATE_LIMIT',
  'INGEST_RATE_WINDOW_MS',
  'INSTANCE_ROLE',
  'DISPATCH_CONCURRENCY',
  'DISPATCH_CALL_THREAD',
  'DISPATCH_POLL_INTERVAL_MS',
  'DISPATCH_LEASE_MS',
  'RETRY_SCHEDULE',
  'RESPONSE_BODY_CAP_BYTES',
  'SECRET_ROTATION_OVERLAP',
  'AUTO_DISABLE_AFTER',
  'HANDLER_MAX_CONCURRENCY',
  'CIRCUIT_FAILURE_THRESHOLD',
  'CIRCUIT_COOLDOWN',
  'CIRCUIT_COOLDOWN_MAX',
  'CIRCUIT_FAILURE_RATE',
  'CIRCUIT_RATE_WINDOW',
  'CIRCUIT_RATE_MIN_CALLS',
  'LOG_RETENTION_DAYS',
  'LOG_CLEANUP_CRON',
  'PAUSE_CHECK_CRON',
  'LOG_SEARCH_WINDOW_ROWS',
  'AUDIT_RETENTION',
  'RETENTION_BATCH_SIZE',
  'RETENTION_PAUSE_MS',
  'SHUTDOWN_GRACE_MS',
  'DECISION_BUDGET_MS',
  'FILTER_MAX_BYTES',
  'FILTER_MAX_DEPTH',
  'BENCH_EMPTY_ROUTE',
] as const);

export type EnvKey = (typeof ENV_KEYS)[number];
export type EnvInput = Partial<Record<EnvKey, string | undefined>> | NodeJS.ProcessEnv;

/** Raised when the environment is invalid; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates the known variables; blank values count as unset. Never echoes a value back.
 * Returns every problem rather than throwing, so the caller can report them all at once.
 */
export function validateEnvironment(input: EnvInput): { env: EnvironmentVariables; problems: string[] } {
  const picked: Record<string, string> = {};
  for (const key of ENV_KEYS) {
    const value = input[key];
    if (value !== undefined && value.trim() !== '') picked[key] = value.trim();
  }
  const env = plainToInstance(EnvironmentVariables, picked);
  const errors = validateSync(env, { whitelist: true, forbidUnknownValues: false });
  const problems = errors.map((error) => {
    const messages = Object.values(error.constraints ?? {});
    return `${error.property}: ${messages.join('; ')}`;
  });
  return { env, problems };
}
