import { createHash } from 'node:crypto';
import type { ResultSetHeader } from 'mysql2';
import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { DirectSql } from '../database/direct-sql.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { GroupCommit } from '../database/group-commit.js';
import { isDatabaseTimeout } from '../database/database-errors.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';
import { DeliveryReads } from '../queue/delivery-reads.js';
import { DeliveryState, PlannedDelivery, PlannedDeliveryName } from '../queue/delivery.js';
import { WorkSignal } from '../queue/work-signal.js';
import { DeliveredLogs } from '../execution-logs/delivered-logs.js';
import { eventDeliveries, plannedDeliveries } from './event-deliveries.js';
import { validateEvent, ValidEvent } from './event-validation.js';
import { EventStore } from './event-store.js';
import { AcceptedEventDto, BatchItemResultDto, BatchResultDto, DeliveryStateDto, EventDetailDto } from './dto/event.dto.js';
import type { Attributes } from '@opentelemetry/api';
import { inSpan, traceparentOf, tracingEnabled } from '../telemetry/tracing.js';

/**
 * An event to store, with the key that posted it and, when it has an idempotency key, the hash
 * of the request it came from (see requestHash): a later post with the same key must match it.
 */
type Submission = ValidEvent & { apiKeyId: number | null; requestHash: string | null; traceParent: string | null };

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

/** An event about to be stored, with the enabled `after` handlers it is planned for, in run order. */
interface Fresh {
  event: Submission;
  handlers: readonly HandlerEntity[];
}

/** The deliveries of fresh events, given each event's id (or what stands for it): one per handler, `seq` its place in run order. */
function planned<EventId>(fresh: readonly Fresh[], ids: readonly EventId[]): PlannedDelivery<EventId>[] {
  return fresh.flatMap(({ event, handlers }, index) =>
    handlers.map((handler, seq) => ({ eventId: ids[index]!, handlerId: handler.id, seq, objectKey: event.objectKey })),
  );
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
    private readonly sql: DirectSql,
    private readonly events: EventStore,
    private readonly queue: DeliveryQueue,
    private readonly cache: CacheManagerService,
    private readonly signal: WorkSignal,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
    private readonly delivered: DeliveredLogs,
    private readonly queued: DeliveryReads,
  ) {
    // When a write gets no answer within the database bounds, the posts queued behind it fail
    // with it (503) instead of each waiting out the same bound again.
    this.writer = new GroupCommit((items) => this.store(items), 200, sql.mysql ? 2 : 1, isDatabaseTimeout);
  }

  async accept(input: unknown, headerKey: string | undefined, apiKeyId: number | null): Promise<AcceptedEventDto> {
    const event = validateEvent(input, headerKey, Date.now(), this.config.ingest.maxDataBytes);
    const result = await traced({ 'provisioning.event': event.eventType, 'provisioning.object_id': event.objectId }, (traceParent) =>
      this.writer.submit({ ...event, apiKeyId, requestHash: eventRequestHash(event, input), traceParent }),
    );
    if (result instanceof DomainError) throw result;
    return result;
  }

  /**
   * Stores an event the service emits itself (src/operational-events/): built there, so not
   * validated as a posted event is (validateEvent refuses operational events from outside);
   * stored through the same group commit, with its deliveries, as any posted event.
   */
  async acceptOperational(event: ValidEvent): Promise<AcceptedEventDto> {
    // With tracing on, an event set off by a delivery (exhausted, a disable) joins that delivery's trace.
    const result = await this.writer.submit({ ...event, apiKeyId: null, requestHash: null, traceParent: traceparentOf() });
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
    const stored = await traced({ 'provisioning.batch_size': valid.length }, (traceParent) =>
      this.store(valid.map((item) => ({ ...item.event, apiKeyId, requestHash: item.requestHash, traceParent }))),
    );
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
    return traced({ 'provisioning.batch_size': events.length }, async (traceParent) =>
      (await this.store(events.map((event) => ({ ...event, apiKeyId, traceParent })), true)) as AcceptedEventDto[],
    );
  }

  /** The event detail: the event and the state of each of its deliveries. */
  async get(id: number): Promise<EventDetailDto> {
    const event = await this.events.get(id);
    if (!event) throw DomainError.field('EVENT_NOT_FOUND', 'id', `Event ${id} does not exist`);
    // The queue first, then the logs: a delivery that left the queue before the first read has its
    // success log row committed with that, so the second finds it; none goes missing in between.
    const queued = await this.queued.deliveriesOf(id);
    const deliveries = eventDeliveries(queued, await this.delivered.of([id]));
    return {
      id: event.id,
      event: event.eventType,
      object_id: event.objectId,
      dt: event.dt,
      data: JSON.parse(event.dataJson),
      idempotency_key: event.idempotencyKey,
      accepted_at: new Date(event.acceptedAt).toISOString(),
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
    const fresh: Fresh[] = [];
    for (const event of events) {
      if (event.idempotencyKey === null || !replays.has(event.idempotencyKey)) {
        fresh.push({ event, handlers: this.cache.lookup(event.eventType, 'after', event) });
      }
    }
    const ids = fresh.length === 0 ? [] : await this.storeFresh(fresh, now);
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

  /**
   * One transaction: the events (EventStore) and their planned deliveries (the queue's enqueue).
   * SQLite: prepared single-row statements in one synchronous transaction; MySQL/MariaDB: one
   * multi-row INSERT for the events and one for their deliveries, sent with START TRANSACTION
   * and COMMIT in one round trip (DirectSql.scriptTransaction) instead of four.
   */
  private async storeFresh(fresh: readonly Fresh[], now: number): Promise<number[]> {
    const events = fresh.map((entry) => entry.event);
    if (!this.sql.mysql) {
      return this.sql.transactionSqlite(() => {
        const ids = this.events.insertSqlite(events, now);
        this.queue.enqueueSqlite(planned(fresh, ids), now);
        return ids;
      });
    }
    const inserts = await this.events.insertStatementsMysql(events, now);
    const deliveries = planned(fresh, inserts.idSql);
    const statements = deliveries.length > 0 ? [...inserts.statements, this.queue.enqueueStatementMysql(deliveries, now)] : inserts.statements;
    return inserts.ids((await this.sql.scriptTransaction(statements)) as ResultSetHeader[]);
  }

  /** The events already stored under the idempotency keys of these events, with their request hashes. */
  private async findReplays(events: Submission[]): Promise<Map<string, Earlier>> {
    const keys = [...new Set(events.map((event) => event.idempotencyKey).filter((key): key is string => key !== null))];
    const replays = new Map<string, Earlier>();
    const earlier = await this.events.findByIdempotencyKeys(keys);
    if (earlier.length === 0) return replays;
    const ids = earlier.map((event) => event.id);
    // The queue first, then the logs (as in `get`).
    const queued = await this.queued.plannedFor(ids);
    const planned = plannedDeliveries(queued, await this.delivered.of(ids));
    for (const event of earlier) {
      const key = event.idempotencyKey!;
      const answer: AcceptedEventDto = {
        id: event.id,
        event: event.eventType,
        object_id: event.objectId,
        dt: event.dt,
        idempotency_key: key,
        replayed: true,
        deliveries: (planned.get(event.id) ?? []).map(toPlannedDto),
      };
      replays.set(key, { answer, requestHash: event.requestHash });
    }
    return replays;
  }
}

function toPlannedDto(delivery: PlannedDeliveryName): AcceptedEventDto['deliveries'][number] {
  return { handler_id: delivery.handlerId, handler_name: delivery.handlerName, seq: delivery.seq };
}

function toDeliveryState(delivery: DeliveryState): DeliveryStateDto {
  return {
    id: delivery.id,
    handler_id: delivery.handlerId,
    handler_name: delivery.handlerName,
    seq: delivery.seq,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? new Date(delivery.nextAttemptAt).toISOString() : null,
    last_response_code: delivery.lastResponseCode,
    last_error: delivery.lastError,
    updated_at: new Date(delivery.updatedAt).toISOString(),
  };
}

/** A duplicate key, from the driver itself or wrapped by TypeORM. */
function isUniqueViolation(error: unknown): boolean {
  const found = error as { code?: string; errno?: number; driverError?: { code?: string; errno?: number } } | null;
  return [found, found?.driverError].some(
    (candidate) => candidate?.code === 'ER_DUP_ENTRY' || candidate?.code === 'SQLITE_CONSTRAINT_UNIQUE' || candidate?.errno === 1062,
  );
}

/**
 * Runs `store` inside an `ingest` span when tracing is on (src/telemetry/tracing.ts) and hands
 * it that span's traceparent, stored with each event so its deliveries continue the trace.
 */
function traced<T>(attributes: Attributes, store: (traceParent: string | null) => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return store(null);
  return inSpan('ingest', attributes, () => store(traceparentOf()));
}
