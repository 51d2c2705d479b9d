import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ResultSetHeader } from 'mysql2';
import { DirectSql, MysqlSession, Row, SqlStatement } from '../database/direct-sql.js';
import { num, placeholders } from '../database/sql.js';
import { AppConfig } from '../config/app-config.js';
import { lastIdTo, lateWriteMs, splitAt, tableIdOrder } from '../database/ids-by-time.js';
import { envelopeJson } from './envelope.js';
import type { ValidEvent } from './event-validation.js';

/** An event to store, as validated (src/events/event-validation.ts), with who posted it, its request hash and trace. */
export interface NewEvent extends ValidEvent {
  requestHash: string | null;
  apiKeyId: number | null;
  /** The ingest span's W3C traceparent when tracing is on; null otherwise. */
  traceParent: string | null;
}

/** A stored event. `dataJson` is read only by `get`. */
export interface StoredEvent {
  id: number;
  eventType: string;
  objectId: number;
  dt: string;
  dataJson: string;
  idempotencyKey: string | null;
  /** Null for events stored before request hashes were. */
  requestHash: string | null;
  acceptedAt: number;
}

/** Column order of an insert; `eventValues` lists the values in the same order. */
const EVENT_COLUMNS = ['events_id', 'object_id', 'object_key', 'dt', 'data', 'idempotency_key', 'request_hash', 'api_key_id', 'accepted_at', 'trace_parent'];
const INSERT = `INSERT INTO events (${EVENT_COLUMNS.join(', ')}) VALUES `;
const INSERT_ONE = INSERT + placeholders(1, EVENT_COLUMNS.length);

function eventValues(event: NewEvent, now: number): unknown[] {
  return [event.eventType, event.objectId, event.objectKey, event.dt, event.dataJson, event.idempotencyKey, event.requestHash, event.apiKeyId, now, event.traceParent];
}

/**
 * The owner of the `events` table: insert (inside ingest's transaction, with the deliveries
 * the queue enqueues), the reads of the event detail and of idempotent replays, and the purge
 * of expired events. The claim's join on `events` (src/queue/claim-sql.ts) is the one
 * statement elsewhere that reads it.
 */
@Injectable()
export class EventStore {
  /** How late after its accepted_at an event may be written, at most (src/database/ids-by-time.ts). */
  private readonly lateWriteMs: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
    config: AppConfig,
  ) {
    this.lateWriteMs = lateWriteMs(config);
  }

  /** Inserts the events inside the caller's SQLite transaction (DirectSql.transactionSqlite); answers their ids in order. */
  insertSqlite(events: readonly NewEvent[], now: number): number[] {
    const insert = this.sql.statement(INSERT_ONE);
    return events.map((event) => Number(insert.run(...eventValues(event, now)).lastInsertRowid));
  }

  /**
   * The statements that insert the events in a script transaction (MySQL/MariaDB,
   * DirectSql.scriptTransaction): one multi-row INSERT where the ids it assigns are known,
   * otherwise one per event, each followed by keeping its first id in a session variable.
   * `idSql`: each event's id as an SQL expression the statements after these may use (the
   * deliveries' event_id); `ids`: each event's id from these statements' results.
   */
  async insertStatementsMysql(events: readonly NewEvent[], now: number): Promise<{ statements: SqlStatement[]; idSql: string[]; ids(results: readonly ResultSetHeader[]): number[] }> {
    const allocation = await this.idAllocation;
    if (allocation !== 'one-by-one') {
      return {
        statements: [
          { sql: INSERT + placeholders(events.length, EVENT_COLUMNS.length), params: events.flatMap((event) => eventValues(event, now)) },
          { sql: 'SET @provisioning_first_event = LAST_INSERT_ID()', params: [] },
        ],
        // mysql2 reports the first id a multi-row INSERT assigned; they are consecutive (step apart).
        idSql: events.map((_event, index) => `@provisioning_first_event + ${index * allocation.step}`),
        ids: (results) => events.map((_event, index) => results[0]!.insertId + index * allocation.step),
      };
    }
    return {
      statements: events.flatMap((event, index) => [
        { sql: INSERT_ONE, params: eventValues(event, now) },
        { sql: `SET @provisioning_event_${index} = LAST_INSERT_ID()`, params: [] },
      ]),
      idSql: events.map((_event, index) => `@provisioning_event_${index}`),
      ids: (results) => events.map((_event, index) => results[2 * index]!.insertId),
    };
  }

  /**
   * How a multi-row INSERT into `events` numbers its rows on MySQL/MariaDB, read once: with
   * innodb_autoinc_lock_mode 0 or 1 (MariaDB's default) one statement gets consecutive ids;
   * otherwise events are inserted one by one.
   */
  private readonly idAllocation: Promise<{ step: number } | 'one-by-one'> = (async () => {
    if (!this.sql.mysql) return { step: 1 };
    try {
      const [row] = await this.dataSource.query('SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step');
      return Number(row.mode) <= 1 ? { step: Number(row.step) } : 'one-by-one';
    } catch {
      return 'one-by-one';
    }
  })();

  /** One event, or null when it does not exist. */
  async get(id: number): Promise<StoredEvent | null> {
    const [row]: Row[] = await this.dataSource.query(
      'SELECT id, events_id, object_id, dt, data, idempotency_key, request_hash, accepted_at FROM events WHERE id = ?',
      [id],
    );
    return row ? toStored(row) : null;
  }

  /**
   * The envelopes handlers were sent for these events, rebuilt byte for byte as the dispatcher
   * builds them (envelope.ts), by event id; an event retention removed is absent.
   */
  async envelopeOf(ids: readonly number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows: Row[] = await this.dataSource.query(`SELECT id, events_id, object_id, dt, data FROM events WHERE id IN ${placeholders(1, ids.length)}`, [...ids]);
    return new Map(rows.map((row) => [num(row.id), envelopeJson(String(row.events_id), num(row.object_id), String(row.dt), String(row.data))]));
  }

  /** The events stored under these idempotency keys (without their data). */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<StoredEvent[]> {
    if (keys.length === 0) return [];
    const rows: Row[] = await this.dataSource.query(
      `SELECT id, events_id, object_id, dt, idempotency_key, request_hash, accepted_at FROM events WHERE idempotency_key IN ${placeholders(1, keys.length)}`,
      [...keys],
    );
    return rows.map(toStored);
  }

  // --- purge (retention, src/retention/) -----------------------------------------------------

  /**
   * Where retention's walk by id ends: the highest id an event accepted before `cutoff` can have,
   * found along the primary key (src/database/ids-by-time.ts); null when none was accepted that
   * early. The walk tests accepted_at, so the events of the margin stay.
   */
  async walkEndBefore(cutoff: number): Promise<number | null> {
    const moment = cutoff + this.lateWriteMs;
    const end = lastIdTo(await splitAt(tableIdOrder((sql, params) => this.sql.rows(sql, params), 'events', 'accepted_at'), moment, (at) => at <= moment));
    return end === 0 ? null : end;
  }

  /**
   * One batch of retention's walk: the ids in (afterId, upTo] of events accepted before
   * `cutoff`, ascending, at most `limit`; read along the primary key (the range is bounded, so
   * the walk never reads past the expired events).
   */
  async acceptedBefore(cutoff: number, afterId: number, upTo: number, limit: number): Promise<number[]> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT id FROM events ${this.sql.mysql ? 'FORCE INDEX (PRIMARY)' : ''} WHERE id > ? AND id <= ? AND accepted_at < ? ORDER BY id LIMIT ?`,
      [afterId, upTo, cutoff, limit],
    );
    return rows.map((row) => num(row.id));
  }

  /** Purge: deletes these events, inside the caller's SQLite transaction, after the queue purged their deliveries. */
  purgeSqlite(ids: readonly number[]): void {
    if (ids.length > 0) this.sql.statement(`DELETE FROM events WHERE id IN ${placeholders(1, ids.length)}`).run(...ids);
  }

  /** Purge on MySQL/MariaDB, on the session of the caller's transaction. */
  async purgeMysql(session: MysqlSession, ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await session.write(`DELETE FROM events WHERE id IN ${placeholders(1, ids.length)}`, ids);
  }
}

function toStored(row: Row): StoredEvent {
  return {
    id: num(row.id),
    eventType: String(row.events_id),
    objectId: num(row.object_id),
    dt: String(row.dt),
    dataJson: row.data === undefined ? '' : String(row.data),
    idempotencyKey: (row.idempotency_key as string | null) ?? null,
    requestHash: (row.request_hash as string | null) ?? null,
    acceptedAt: num(row.accepted_at),
  };
}
