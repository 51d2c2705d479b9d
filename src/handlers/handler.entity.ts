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

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;
}
