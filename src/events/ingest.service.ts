import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { isMysql, num, numOrNull, placeholders } from '../database/sql.js';
import { DirectSql } from '../database/direct-sql.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { GroupCommit } from '../database/group-commit.js';
import { isDatabaseTimeout } from '../database/database-errors.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { WorkSignal } from '../dispatcher/work-signal.js';
import { validateEvent, ValidEvent } from './event-validation.js';
import { AcceptedEventDto, BatchItemResultDto, BatchResultDto, DeliveryStateDto, EventDetailDto } from './dto/event.dto.js';

/**
 * An event to store, with the key that posted it and, when it has an idempotency key, the hash
 * of the request it came from (see requestHash): a later post with the same key must match it.
 */
type Submission = ValidEvent & { apiKeyId: number | null; requestHash: string | null };

/** An event derived from a source change: its hash is the change's, computed by the caller. */
export type DerivedEvent = ValidEvent & { requestHash: string | null };

/** What storing one submission answers: the event (new or replayed), or the refusal of a reused key. */
type Stored = AcceptedEventDto | DomainError;

/** An event stored earlier under a key, with the hash of its request (null: stored before hashes were). */
interface Earlier {
  answer: AcceptedEventDto;
  requestHash: string | null;
}

/** The answer to `event`, whose key was used before for `earlier`. */
function answerRepeat(event: Submission, earlier: Earlier): Stored {
  if (earlier.requestHash !== null && earlier.requestHash !== event.requestHash) return keyReused(event.idempotencyKey!);
  return earlier.answer;
}

/**
 * What counts as "the same request" for an idempotency key posted to /events or in a batch:
 * the event ID, object_id, `dt` as given (absent is its own value: the server's clock fills it
 * in, so a repeat without dt is the same request), and `data` as stored, i.e. JSON.stringify of
 * the parsed body: whitespace and number spelling (1.0, 1e0) do not count, key order does.
 * Absent data is {} (it is stored as {}). The API key that posts is not part of it: keys are
 * global, as before. SHA-256 over text already built for the insert, so the hot path pays one
 * hash of the data, and only for events that carry a key.
 */
export function requestHash(kind: 'event' | 'change', parts: readonly string[]): string {
  const hash = createHash('sha256').update(kind);
  for (const part of parts) hash.update('\0').update(part);
  return hash.digest('base64url');
}

function eventRequestHash(event: ValidEvent, input: unknown): string | null {
  if (event.idempotencyKey === null) return null;
  const dt = (input as { dt?: unknown }).dt;
  return requestHash('event', [event.eventType, String(event.objectId), typeof dt === 'string' ? `dt:${dt}` : 'no dt', event.dataJson]);
}

function keyReused(key: string): DomainError {
  return DomainError.field(
    'IDEMPOTENCY_KEY_REUSED',
    'idempotency_key',
    `The idempotency key "${key}" was already used with a different request; repeat the same request to get its answer again, or use a new key`,
  );
}

const DELIVERY_COLUMNS = [
  'event_id',
  'handler_id',
  'seq',
  'object_key',
  'status',
  'blocking',
  'attempts',
  'manual',
  'next_attempt_at',
  'created_at',
  'updated_at',
];

const EVENT_COLUMNS = '(events_id, object_id, object_key, dt, data, idempotency_key, request_hash, api_key_id, accepted_at)';
const EVENT_COLUMN_COUNT = 9;

function eventValues(event: Submission, now: number): unknown[] {
  return [event.eventType, event.objectId, event.objectKey, event.dt, event.dataJson, event.idempotencyKey, event.requestHash, event.apiKeyId, now];
}

/** One row of DELIVERY_COLUMNS: a first attempt, due now, that holds back later ones on its object. */
function deliveryValues(eventId: number, handlerId: number, seq: number, objectKey: string, now: number): unknown[] {
  return [eventId, handlerId, seq, objectKey, 'pending', 1, 0, 0, now, now, now];
}

/**
 * Accepts events: validates them, then stores each event and its planned deliveries (one per
 * enabled `after` handler, in run order) in one transaction before answering. Only after the
 * commit does it wake the dispatcher, so nothing is ever sent for a write that rolled back.
 */
@Injectable()
export class IngestService {
  /**
   * Concurrent single posts share one transaction (one fsync) per write. On MySQL/MariaDB a
   * second write may start while one is in flight, so the server's round trips overlap.
   */
  private readonly writer: GroupCommit<Submission, Stored>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
    private readonly cache: CacheManagerService,
    private readonly signal: WorkSignal,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {
    // When a write gets no answer within the database bounds, the posts queued behind it fail
    // with it (503) instead of each waiting out the same bound again.
    this.writer = new GroupCommit((items) => this.store(items), 200, sql.mysql ? 2 : 1, isDatabaseTimeout);
  }

  async accept(input: unknown, headerKey: string | undefined, apiKeyId: number | null): Promise<AcceptedEventDto> {
    const event = validateEvent(input, headerKey, Date.now(), this.config.ingest.maxDataBytes);
    const result = await this.writer.submit({ ...event, apiKeyId, requestHash: eventRequestHash(event, input) });
    if (result instanceof DomainError) throw result;
    return result;
  }

  /** Validates every item on its own; stores the valid ones together; answers per item. */
  async acceptBatch(inputs: unknown[], apiKeyId: number | null): Promise<BatchResultDto> {
    const { maxBatchEvents, maxDataBytes } = this.config.ingest;
    if (inputs.length > maxBatchEvents) {
      throw DomainError.field('BATCH_TOO_LARGE', 'events', `a batch holds at most ${maxBatchEvents} events (MAX_BATCH_EVENTS); this one has ${inputs.length}`);
    }
    const now = Date.now();
    const items: BatchItemResultDto[] = [];
    const valid: { index: number; event: ValidEvent; requestHash: string | null }[] = [];
    const seenKeys = new Set<string>();
    inputs.forEach((input, index) => {
      try {
        const event = validateEvent(input, undefined, now, maxDataBytes);
        if (event.idempotencyKey !== null && seenKeys.has(event.idempotencyKey)) {
          throw DomainError.field('IDEMPOTENCY_KEY_INVALID', 'idempotency_key', 'the same idempotency_key appears twice in this batch');
        }
        if (event.idempotencyKey !== null) seenKeys.add(event.idempotencyKey);
        valid.push({ index, event, requestHash: eventRequestHash(event, input) });
        items.push({ index, status: 'accepted' });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        items.push({ index, status: 'rejected', error: { code: error.code, message: error.message, details: error.details } });
      }
    });
    const stored = await this.store(valid.map((item) => ({ ...item.event, apiKeyId, requestHash: item.requestHash })));
    valid.forEach((item, position) => {
      const result = stored[position]!;
      items[item.index] =
        result instanceof DomainError
          ? { index: item.index, status: 'rejected', error: { code: result.code, message: result.message, details: result.details } }
          : { index: item.index, status: result.replayed ? 'replayed' : 'accepted', event: result };
    });
    return {
      accepted: items.filter((item) => item.status === 'accepted').length,
      replayed: items.filter((item) => item.status === 'replayed').length,
      rejected: items.filter((item) => item.status === 'rejected').length,
      items,
    };
  }

  /**
   * Stores the events one source change means, atomically and in their order. If any of their
   * keys was used before for a different change, nothing is stored and the change is refused.
   */
  async acceptDerived(events: DerivedEvent[], apiKeyId: number | null): Promise<AcceptedEventDto[]> {
    return (await this.store(events.map((event) => ({ ...event, apiKeyId })), true)) as AcceptedEventDto[];
  }

  async get(id: number): Promise<EventDetailDto> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      'SELECT id, events_id, object_id, dt, data, idempotency_key, accepted_at FROM events WHERE id = ?',
      [id],
    );
    const row = rows[0];
    if (!row) throw DomainError.field('EVENT_NOT_FOUND', 'id', `Event ${id} does not exist`);
    const deliveries: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT d.id, d.handler_id, h.name AS handler_name, d.seq, d.status, d.attempts, d.next_attempt_at,
              d.last_response_code, d.last_error, d.updated_at
         FROM deliveries d LEFT JOIN handlers h ON h.id = d.handler_id
        WHERE d.event_id = ? ORDER BY d.seq`,
      [id],
    );
    return {
      id: num(row.id),
      event: String(row.events_id),
      object_id: num(row.object_id),
      dt: String(row.dt),
      data: JSON.parse(String(row.data)),
      idempotency_key: (row.idempotency_key as string | null) ?? null,
      accepted_at: new Date(num(row.accepted_at)).toISOString(),
      deliveries: deliveries.map(toDeliveryState),
    };
  }

  /**
   * Stores `events`, answering each: a new event, the replay of the event stored earlier under
   * its key (same request), or IDEMPOTENCY_KEY_REUSED (different request, nothing stored for
   * it). `atomic`: one refusal refuses them all, and it is thrown.
   */
  private async store(events: Submission[], atomic = false): Promise<Stored[]> {
    if (events.length === 0) return [];
    for (let attempt = 0; ; attempt++) {
      const replays = await this.findReplays(events);
      if (atomic) {
        for (const event of events) {
          const earlier = event.idempotencyKey === null ? undefined : replays.get(event.idempotencyKey);
          const answer = earlier && answerRepeat(event, earlier);
          if (answer instanceof DomainError) throw answer;
        }
      }
      try {
        const results = await this.insert(events, replays);
        const fresh = results.filter((result): result is AcceptedEventDto => !(result instanceof DomainError) && !result.replayed);
        if (fresh.length > 0) {
          this.metrics.countAccepted(fresh.map((result) => result.event));
          this.signal.ring();
        }
        return results;
      } catch (error) {
        // Two posts with one new idempotency key raced; the loser answers the winner's event.
        if (attempt === 0 && isUniqueViolation(error)) continue;
        throw error;
      }
    }
  }

  /**
   * Stores the events that are not replays, each with one delivery per enabled `after`
   * handler in run order, in one transaction; answers every event in the order given.
   */
  private async insert(events: Submission[], replays: Map<string, Earlier>): Promise<Stored[]> {
    const now = Date.now();
    const fresh: { event: Submission; handlers: readonly HandlerEntity[] }[] = [];
    for (const event of events) {
      if (event.idempotencyKey === null || !replays.has(event.idempotencyKey)) {
        fresh.push({ event, handlers: this.cache.lookup(event.eventType, 'after', event) });
      }
    }
    const ids = fresh.length === 0 ? [] : this.sql.mysql ? await this.insertMysql(fresh, now) : await this.insertSqlite(fresh, now);
    let next = 0;
    return events.map((event) => {
      const earlier = event.idempotencyKey === null ? undefined : replays.get(event.idempotencyKey);
      if (earlier) return answerRepeat(event, earlier);
      const { handlers } = fresh[next]!;
      return {
        id: ids[next++]!,
        event: event.eventType,
        object_id: event.objectId,
        dt: event.dt,
        idempotency_key: event.idempotencyKey,
        replayed: false,
        deliveries: handlers.map((handler, seq) => ({ handler_id: handler.id, handler_name: handler.name, seq })),
      };
    });
  }

  /** SQLite: prepared single-row statements, run in one synchronous transaction. */
  private insertSqlite(fresh: { event: Submission; handlers: readonly HandlerEntity[] }[], now: number): Promise<number[]> {
    const insertEvent = this.sql.statement(`INSERT INTO events ${EVENT_COLUMNS} VALUES ${placeholders(1, EVENT_COLUMN_COUNT)}`);
    const insertDelivery = this.sql.statement(`INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ${placeholders(1, DELIVERY_COLUMNS.length)}`);
    return this.sql.transactionSqlite(() =>
      fresh.map(({ event, handlers }) => {
        const id = Number(insertEvent.run(...eventValues(event, now)).lastInsertRowid);
        handlers.forEach((handler, seq) => insertDelivery.run(...deliveryValues(id, handler.id, seq, event.objectKey, now)));
        return id;
      }),
    );
  }

  /** MySQL/MariaDB: one multi-row INSERT for the events and one for their deliveries. */
  private async insertMysql(fresh: { event: Submission; handlers: readonly HandlerEntity[] }[], now: number): Promise<number[]> {
    const allocation = await this.idAllocation;
    return this.sql.transactionMysql(async (session) => {
      let ids: number[];
      if (fresh.length > 1 && allocation !== 'one-by-one') {
        const header = await session.write(
          `INSERT INTO events ${EVENT_COLUMNS} VALUES ${placeholders(fresh.length, EVENT_COLUMN_COUNT)}`,
          fresh.flatMap(({ event }) => eventValues(event, now)),
        );
        // mysql2 reports the first id a multi-row INSERT assigned; they are consecutive (step apart).
        ids = fresh.map((_entry, index) => header.insertId + index * allocation.step);
      } else {
        ids = [];
        for (const { event } of fresh) {
          ids.push((await session.write(`INSERT INTO events ${EVENT_COLUMNS} VALUES ${placeholders(1, EVENT_COLUMN_COUNT)}`, eventValues(event, now))).insertId);
        }
      }
      const values: unknown[] = [];
      let rows = 0;
      fresh.forEach(({ event, handlers }, index) => {
        handlers.forEach((handler, seq) => values.push(...deliveryValues(ids[index]!, handler.id, seq, event.objectKey, now)));
        rows += handlers.length;
      });
      if (rows > 0) {
        await session.write(`INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ${placeholders(rows, DELIVERY_COLUMNS.length)}`, values);
      }
      return ids;
    });
  }

  /**
   * How a multi-row INSERT into `events` numbers its rows on MySQL/MariaDB, read once: with
   * innodb_autoinc_lock_mode 0 or 1 (MariaDB's default) one statement gets consecutive ids;
   * otherwise events are inserted one by one.
   */
  private readonly idAllocation: Promise<{ step: number } | 'one-by-one'> = (async () => {
    if (!isMysql(this.dataSource)) return { step: 1 };
    try {
      const [row] = await this.dataSource.query('SELECT @@innodb_autoinc_lock_mode AS mode, @@auto_increment_increment AS step');
      return Number(row.mode) <= 1 ? { step: Number(row.step) } : 'one-by-one';
    } catch {
      return 'one-by-one';
    }
  })();

  /** The events already stored under the idempotency keys of these events, with their request hashes. */
  private async findReplays(events: Submission[]): Promise<Map<string, Earlier>> {
    const keys = [...new Set(events.map((event) => event.idempotencyKey).filter((key): key is string => key !== null))];
    const replays = new Map<string, Earlier>();
    if (keys.length === 0) return replays;
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT id, events_id, object_id, dt, idempotency_key, request_hash FROM events WHERE idempotency_key IN ${placeholders(1, keys.length)}`,
      keys,
    );
    if (rows.length === 0) return replays;
    // Every replayed event's planned deliveries in one statement, however many repeats a batch holds.
    const planned: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT d.event_id, d.handler_id, h.name AS handler_name, d.seq FROM deliveries d LEFT JOIN handlers h ON h.id = d.handler_id
        WHERE d.event_id IN ${placeholders(1, rows.length)} ORDER BY d.event_id, d.seq`,
      rows.map((row) => row.id),
    );
    const byEvent = new Map<number, AcceptedEventDto['deliveries']>();
    for (const p of planned) {
      const eventId = num(p.event_id);
      let list = byEvent.get(eventId);
      if (!list) byEvent.set(eventId, (list = []));
      list.push({ handler_id: num(p.handler_id), handler_name: (p.handler_name as string | null) ?? null, seq: num(p.seq) });
    }
    for (const row of rows) {
      const key = String(row.idempotency_key);
      const answer: AcceptedEventDto = {
        id: num(row.id),
        event: String(row.events_id),
        object_id: num(row.object_id),
        dt: String(row.dt),
        idempotency_key: key,
        replayed: true,
        deliveries: byEvent.get(num(row.id)) ?? [],
      };
      replays.set(key, { answer, requestHash: (row.request_hash as string | null) ?? null });
    }
    return replays;
  }
}

function toDeliveryState(row: Record<string, unknown>): DeliveryStateDto {
  const next = numOrNull(row.next_attempt_at);
  const status = String(row.status);
  return {
    id: num(row.id),
    handler_id: num(row.handler_id),
    handler_name: (row.handler_name as string | null) ?? null,
    seq: num(row.seq),
    status,
    attempts: num(row.attempts),
    next_attempt_at: status === 'pending' && next !== null ? new Date(next).toISOString() : null,
    last_response_code: numOrNull(row.last_response_code),
    last_error: (row.last_error as string | null) ?? null,
    updated_at: new Date(num(row.updated_at)).toISOString(),
  };
}

/** A duplicate key, from the driver itself or wrapped by TypeORM. */
function isUniqueViolation(error: unknown): boolean {
  const found = error as { code?: string; errno?: number; driverError?: { code?: string; errno?: number } } | null;
  return [found, found?.driverError].some(
    (candidate) => candidate?.code === 'ER_DUP_ENTRY' || candidate?.code === 'SQLITE_CONSTRAINT_UNIQUE' || candidate?.errno === 1062,
  );
}
