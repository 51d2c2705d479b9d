import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { isOperationalEvent, OPERATIONAL_CAUSES, OperationalEventId } from '../events/event-catalog.js';
import { isoWithOffset, objectKey } from '../events/envelope.js';
import { IngestService } from '../events/ingest.service.js';
import type { ExecutionLogRecord } from '../execution-logs/execution-log.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { ClaimedDelivery } from '../queue/delivery.js';

/** The operational events about a handler (all but provisioning.delivery.exhausted). */
export type HandlerEventId = Exclude<OperationalEventId, 'provisioning.delivery.exhausted'>;

/** The causes an operational event may give (OPERATIONAL_CAUSES, src/events/event-catalog.ts). */
export type CauseOf<T extends OperationalEventId> = (typeof OPERATIONAL_CAUSES)[T][number];

/** What a handler event says about its handler: nothing more (never its target, headers or secrets). */
export interface HandlerSubject {
  id: number;
  name: string;
  /** The handler's status after the change (`enabled`, `disabled`, …). */
  status: string;
}

/** The longest `reason` and `last_error` an operational event carries (the handler row keeps 500 characters of a reason too). */
const TEXT_LIMIT = 500;

const clip = (text: string | null): string | null => (text === null ? null : text.slice(0, TEXT_LIMIT));

/** Epoch milliseconds as the envelope writes times; null for none (or for no time at all, rather than throwing into the caller). */
const instant = (ms: number | null | undefined): string | null => (typeof ms === 'number' && Math.abs(ms) <= 8.64e15 ? isoWithOffset(ms) : null);

/**
 * The service's own events about its handlers and deliveries (`provisioning.*`, the
 * operational group of src/events/event-catalog.ts), stored through the same ingest path as
 * posted events (IngestService.acceptOperational), so handlers subscribed to them get them
 * like any event: same signing, retries and execution logs.
 *
 * Callers emit after their change has committed, and emitting never throws into them and
 * never makes them wait: `emit` answers a promise that always resolves (tests may await it).
 * A failure to store is logged and counted in provisioning_operational_events_total
 * {result="failed"}; the change itself stands.
 *
 * No loops: a change set off by a delivery of an operational event (its retries spent, its
 * handler disabled by it) emits nothing, counted as `suppressed`. Otherwise a receiver that
 * fails every operational event would be sent an event about each failure, and fail that too.
 */
@Injectable()
export class OperationalEvents implements BeforeApplicationShutdown {
  private readonly logger = new Logger('OperationalEvents');
  /** Emits still being written: shutdown waits for them, so none is cut off with the database. */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly ingest: IngestService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * An event about a handler: `cause` one of the event's causes, `reason` the words shown to
   * people (the handler's disabled reason, …), `until` when the state is due to end (a
   * pause's window, a circuit's cool-down). `setOffBy`: the event type of the delivery whose
   * outcome made the change, when a delivery did.
   */
  handler<T extends HandlerEventId>(
    type: T,
    handler: HandlerSubject,
    cause: CauseOf<T>,
    reason: string | null,
    options: { until?: number | null; setOffBy?: string } = {},
  ): Promise<void> {
    const data = { id: handler.id, name: handler.name, status: handler.status, cause, reason: clip(reason), until: instant(options.until) };
    return this.emit(type, handler.id, data, options.setOffBy);
  }

  /**
   * provisioning.delivery.exhausted: the delivery failed for good, as the outcome writer has
   * just committed it (`log`: its last attempt). Its cause: a manual retry that failed, a 410
   * Gone answer (which fails a delivery at once, src/dispatcher/delivery-runner.ts), or its
   * retries spent.
   */
  deliveryExhausted(delivery: ClaimedDelivery, log: ExecutionLogRecord): Promise<void> {
    const cause: CauseOf<'provisioning.delivery.exhausted'> = delivery.manual ? 'manual' : answeredGone(log) ? 'gone' : 'retries';
    const data = {
      id: delivery.id,
      event_id: delivery.eventId,
      event: delivery.eventType,
      object_id: delivery.objectId,
      handler_id: delivery.handlerId,
      handler_name: log.handlerName,
      attempts: log.attempt,
      last_response_code: log.responseCode,
      last_error: clip(log.error),
      cause,
    };
    return this.emit('provisioning.delivery.exhausted', delivery.id, data, delivery.eventType);
  }

  /**
   * provisioning.handler.disabled by the dispatcher, once committed: after a 410 Gone answer,
   * or failing longer than AUTO_DISABLE_AFTER. `log` is the call that decided it.
   */
  handlerDisabledByDispatch(log: ExecutionLogRecord, reason: string): Promise<void> {
    const handler = { id: log.handlerId, name: log.handlerName, status: 'disabled' };
    return this.handler('provisioning.handler.disabled', handler, answeredGone(log) ? 'gone' : 'auto_disable', reason, { setOffBy: log.eventType });
  }

  /**
   * The one way in: stores the operational event `type` about `objectId` (a handler's or a
   * delivery's id) with `data` (its `cause` one of the event's causes). Resolves once it is
   * stored, suppressed or has failed; never rejects.
   */
  emit(type: OperationalEventId, objectId: number, data: Record<string, unknown> & { cause: string }, setOffBy?: string): Promise<void> {
    if (setOffBy !== undefined && isOperationalEvent(setOffBy)) {
      this.metrics.countOperational(type, data.cause, 'suppressed');
      this.logger.debug(`${type} about ${objectId} not emitted: set off by a delivery of ${setOffBy}`);
      return Promise.resolve();
    }
    const write = this.store(type, objectId, data).finally(() => this.pending.delete(write));
    this.pending.add(write);
    return write;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async store(type: OperationalEventId, objectId: number, data: Record<string, unknown> & { cause: string }): Promise<void> {
    try {
      const accepted = await this.ingest.acceptOperational({
        eventType: type,
        objectId,
        objectKey: objectKey(type, objectId),
        dt: isoWithOffset(Date.now()),
        dataJson: JSON.stringify(data),
        idempotencyKey: null,
      });
      this.metrics.countOperational(type, data.cause, 'emitted');
      this.logger.log(`${type} about ${objectId} emitted as event ${accepted.id} (${accepted.deliveries.length} deliveries)`);
    } catch (error) {
      this.metrics.countOperational(type, data.cause, 'failed');
      this.logger.error(`Could not emit ${type} about ${objectId}: ${(error as Error).message}`);
    }
  }
}

/** The call was answered 410 Gone: the receiver wants no more calls. */
function answeredGone(log: ExecutionLogRecord): boolean {
  return log.status === 'fail' && log.responseCode === 410;
}
