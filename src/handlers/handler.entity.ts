import { Column, Entity, Index, PrimaryGeneratedColumn, ValueTransformer } from 'typeorm';
import { epochMs, jsonText, nullableJsonText } from '../database/columns.js';
import type { HandlerFilter } from './handler-filter.js';

export const HANDLER_TYPES = ['http', 'https', 'script'] as const;
export type HandlerType = (typeof HANDLER_TYPES)[number];
export const HANDLER_STATUSES = ['enabled', 'disabled', 'archived'] as const;
export type HandlerStatus = (typeof HANDLER_STATUSES)[number];
export const HANDLER_STAGES = ['after', 'before'] as const;
export type HandlerStage = (typeof HANDLER_STAGES)[number];
export const ON_FAILURE_CHOICES = ['allow', 'forbid'] as const;
export type OnFailure = (typeof ON_FAILURE_CHOICES)[number];
export const RATE_PERIODS = ['second', 'minute'] as const;
export type RatePeriod = (typeof RATE_PERIODS)[number];
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];
export const AUTH_TYPES = ['basic', 'bearer', 'oauth2'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

/**
 * The part of a handler's target authentication that is not secret, as stored in `auth`
 * (names as in the API). Its secret (password, token or client secret) is `authSecret`.
 */
export interface TargetAuthSettings {
  type: AuthType;
  /** basic */
  username?: string;
  /** oauth2: client credentials grant */
  token_url?: string;
  client_id?: string;
  scope?: string;
  audience?: string;
}

/**
 * A JSON object or SQL NULL (jsonText would store the text "null"). TypeORM also hands `from`
 * the value it just inserted, to hydrate columns with a default: that one is not text.
 */
const nullableJson: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : value === null ? null : JSON.stringify(value)),
  from: (value: unknown) => (value === null || value === undefined ? null : typeof value === 'string' ? JSON.parse(value) : value),
};

@Entity({ name: 'handlers' })
@Index('idx_handlers_status_priority', ['status', 'priority', 'id'])
@Index('idx_handlers_event', ['event'])
export class HandlerEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 100 })
  event: string;

  @Column({ type: 'varchar', length: 16 })
  type: HandlerType;

  @Column({ type: 'varchar', length: 2048 })
  task: string;

  @Column({ type: 'varchar', length: 16 })
  status: HandlerStatus;

  @Column({ type: 'integer' })
  priority: number;

  @Column({ type: 'varchar', length: 16 })
  stage: HandlerStage;

  @Column({ name: 'timeout_ms', type: 'integer' })
  timeoutMs: number;

  @Column({ name: 'retry_limit', type: 'integer' })
  retryLimit: number;

  /**
   * Custom headers as JSON. MEDIUMTEXT on MySQL/MariaDB (migration 1764200000000): 20 headers
   * of 4,000 characters (handler-rules.ts) exceed TEXT's 65,535 bytes. `text` here because SQLite
   * has no MEDIUMTEXT (its TEXT is unbounded); test/integration/schema.test.ts checks both.
   */
  @Column({ type: 'text', transformer: jsonText })
  headers: Record<string, string>;

  /**
   * The payload filter (src/handlers/handler-filter.ts), as JSON; null: every event of the
   * handler's `event`. At most FILTER_MAX_BYTES (16 KiB at most), so TEXT holds it on MySQL too.
   */
  @Column({ name: 'payload_filter', type: 'text', nullable: true, default: null, transformer: nullableJson })
  filter: HandlerFilter | null;

  @Column({ name: 'on_failure', type: 'varchar', length: 16, nullable: true, default: null })
  onFailure: OnFailure | null;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 500, nullable: true, default: null })
  disabledReason: string | null;

  /**
   * Current Standard Webhooks secret (whsec_…). Never listed; revealed only to admin keys.
   * Stored encrypted (enc:v1:…, src/handlers/handler-secrets.ts): a row read from the database
   * holds the sealed value until it is opened where it is loaded.
   */
  @Column({ name: 'signing_secret', type: 'varchar', length: 255, nullable: true, default: null })
  signingSecret: string | null;

  /** The secret before the last rotation, still used for signing until it expires. Stored encrypted too. */
  @Column({ name: 'previous_secret', type: 'varchar', length: 255, nullable: true, default: null })
  previousSecret: string | null;

  @Column({ name: 'previous_secret_expires_at', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  previousSecretExpiresAt: number | null;

  /**
   * Target authentication (src/handlers/handler-credentials.ts): how the handler proves
   * itself to its target. The kind and its public settings here; null: none.
   */
  @Column({ name: 'auth', type: 'text', nullable: true, default: null, transformer: nullableJsonText })
  auth: TargetAuthSettings | null;

  /** The secret of `auth`: the basic password, the bearer token or the OAuth2 client secret. Never shown. */
  @Column({ name: 'auth_secret', type: 'text', nullable: true, default: null })
  authSecret: string | null;

  /** mTLS: the client certificate (PEM, optionally followed by its chain), https handlers only. */
  @Column({ name: 'client_cert', type: 'text', nullable: true, default: null })
  clientCert: string | null;

  /** mTLS: the certificate's private key (PEM, unencrypted). Never shown. */
  @Column({ name: 'client_key', type: 'text', nullable: true, default: null })
  clientKey: string | null;

  /** mTLS: the CA certificates (PEM) trusted for the target instead of the system's; null: the system's. */
  @Column({ name: 'client_ca', type: 'text', nullable: true, default: null })
  clientCa: string | null;

  /** Start of the current run of failures without a success in between. */
  @Column({ name: 'failing_since', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  failingSince: number | null;

  /** Deliveries one worker may hold for this handler, claimed or in flight; null: HANDLER_MAX_CONCURRENCY. */
  @Column({ name: 'max_concurrency', type: 'integer', nullable: true, default: null })
  maxConcurrency: number | null;

  /** Calls per `ratePeriod` across all workers; null: no limit. */
  @Column({ name: 'rate_limit', type: 'integer', nullable: true, default: null })
  rateLimit: number | null;

  @Column({ name: 'rate_period', type: 'varchar', length: 8, nullable: true, default: null })
  ratePeriod: RatePeriod | null;

  // Flow state below: written by the dispatcher's transactions (src/handlers/handler-flow.ts),
  // never by an edit (FLOW_STATE_COLUMNS), and making no change-feed row.

  /** The rate limiter's theoretical arrival time (GCRA). */
  @Column({ name: 'rate_tat', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  rateTat: number | null;

  /** A Retry-After answer holds every delivery of the handler until then. */
  @Column({ name: 'hold_until', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  holdUntil: number | null;

  @Column({ name: 'circuit_state', type: 'varchar', length: 16, default: 'closed' })
  circuitState: CircuitState;

  @Column({ name: 'circuit_since', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  circuitSince: number | null;

  @Column({ name: 'circuit_reason', type: 'varchar', length: 500, nullable: true, default: null })
  circuitReason: string | null;

  /** Failed calls since the last success. */
  @Column({ name: 'circuit_failures', type: 'integer', default: 0 })
  circuitFailures: number;

  /** Times the circuit opened since it was last closed: the cool-down doubles with each. */
  @Column({ name: 'circuit_opens', type: 'integer', default: 0 })
  circuitOpens: number;

  /** Open: when the cool-down ends and a probe may go. Half-open: when the probe is given up for lost. */
  @Column({ name: 'circuit_retry_at', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  circuitRetryAt: number | null;

  /**
   * The failure-rate rule (CIRCUIT_FAILURE_RATE): when the current window of calls began; null
   * before the first call counted and after the circuit closed. Written only while the rule is on.
   */
  @Column({ name: 'circuit_window_start', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  circuitWindowStart: number | null;

  /** Calls counted in the current window. */
  @Column({ name: 'circuit_window_calls', type: 'integer', default: 0 })
  circuitWindowCalls: number;

  /** Failed calls among them. */
  @Column({ name: 'circuit_window_failures', type: 'integer', default: 0 })
  circuitWindowFailures: number;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;
}

/** The columns the dispatcher keeps: an edit of the handler writes none of them back. */
export const FLOW_STATE_COLUMNS = [
  'rateTat',
  'holdUntil',
  'circuitState',
  'circuitSince',
  'circuitReason',
  'circuitFailures',
  'circuitOpens',
  'circuitRetryAt',
  'circuitWindowStart',
  'circuitWindowCalls',
  'circuitWindowFailures',
] as const satisfies readonly (keyof HandlerEntity)[];
