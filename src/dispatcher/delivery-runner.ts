import { Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { ExecutionLog, ExecutionLogRecord, LogPayload, LogTrigger } from '../execution-logs/execution-log.js';
import { envelopeJson, isoWithOffset } from '../events/envelope.js';
import { EventDefinition, sampleEnvelope } from '../events/event-catalog.js';
import { ClaimedDelivery, DeliveryUpdate } from '../queue/delivery.js';
import { Outcome } from './outcome-writer.js';
import { CallResult, failedAs, skippedCall } from '../calls/call-result.js';
import { HttpExecutor } from '../calls/http-executor.js';
import { ScriptExecutor } from '../calls/script-executor.js';
import { RetryPolicy } from './retry-policy.js';
import { Clock } from '../common/clock.js';
import { FlowOutcome } from './circuit-outcomes.js';

/**
 * What a delivery's log row keeps of the body sent: nothing, since the body is the envelope of
 * the delivery's event (`envelopeJson` of the claimed event row), which the log detail rebuilds
 * from `events` (src/execution-logs/execution-log.ts, LogPayload).
 */
const EVENT_ENVELOPE: LogPayload = null;

/** The same id on every attempt of one delivery (Standard Webhooks `webhook-id`). */
export function webhookId(delivery: Pick<ClaimedDelivery, 'id'>): string {
  return `msg_d${delivery.id}`;
}

/**
 * Makes the call of one claimed delivery and decides its outcome: the log row, the delivery's
 * next state (succeeded, a retry and when, or failed), the handler's failure streak, and whether the
 * handler is to be disabled. The dispatcher has the outcome written (OutcomeWriter).
 */
@Injectable()
export class DeliveryRunner {
  private readonly logger = new Logger('Dispatch');
  private readonly retries: RetryPolicy;
  /** The failure-rate rule is on: every call of a handler counts in its window, successes too. */
  private readonly countsEveryCall: boolean;

  constructor(
    private readonly http: HttpExecutor,
    private readonly scripts: ScriptExecutor,
    private readonly logs: ExecutionLogsService,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.retries = new RetryPolicy(config.dispatch.retryScheduleMs);
    this.countsEveryCall = config.dispatch.circuit.failureRate > 0;
  }

  /**
   * Answers once the call is over. `stop` aborts the call when the instance shuts down; the
   * delivery has then been handed back to the queue, so there is no outcome (null), only the
   * call is recorded here: a log row saying it was abandoned.
   */
  async run(delivery: ClaimedDelivery, handler: HandlerEntity | undefined, stop?: AbortSignal): Promise<Outcome | null> {
    const trigger: LogTrigger = delivery.manual ? 'manual' : 'auto';
    const attempt = delivery.attempts + 1;

    if (!handler || handler.status !== 'enabled') {
      const why = handler ? `handler is ${handler.status}` : 'handler was deleted';
      return this.outcome(delivery, handler, attempt, trigger, skippedCall(why), {
        status: 'skipped',
        attempted: false,
        nextAttemptAt: Date.now(),
        manual: delivery.manual,
        responseCode: null,
        error: `skipped: ${why}`,
      });
    }

    // Stopping before the call: nothing is sent, so nothing is logged; the delivery is handed back.
    if (stop?.aborted) return null;
    const body = envelopeJson(delivery.eventType, delivery.objectId, delivery.dt, delivery.dataJson);
    const result = await this.execute(handler, body, webhookId(delivery), delivery.eventType, stop);
    if (stop?.aborted) {
      await this.logAbandoned(delivery, handler, attempt, trigger, result);
      return null;
    }
    const now = Date.now();
    let update: DeliveryUpdate = {
      status: 'succeeded',
      attempted: true,
      nextAttemptAt: now,
      manual: false,
      responseCode: result.responseCode,
      error: result.error,
    };
    if (!result.ok) {
      const retry = !result.gone && !delivery.manual && attempt <= handler.retryLimit;
      const wait = result.retryAfterMs ?? this.retries.delayMs(attempt);
      update = { ...update, status: retry ? 'pending' : 'failed', nextAttemptAt: retry ? now + wait : now };
    }
    const outcome = this.outcome(delivery, handler, attempt, trigger, result, update);
    outcome.flow = this.flowOutcome(delivery, result);
    if (result.gone) outcome.disableReason = `Receiver answered 410 Gone on ${new Date(now).toISOString()}`;
    else if (!result.ok && this.failingTooLong(handler, now)) {
      outcome.disableReason = `Failing without a success since ${new Date(handler.failingSince!).toISOString()} (longer than AUTO_DISABLE_AFTER)`;
    }
    return outcome;
  }

  /** Sends the sample payload of the handler's event now, outside the queue; returns the log row. */
  async test(handler: HandlerEntity, event: EventDefinition): Promise<ExecutionLog> {
    const envelope = sampleEnvelope(event, isoWithOffset(Date.now()));
    const body = JSON.stringify(envelope);
    const result =
      handler.type === 'script'
        ? await this.scripts.run(handler, body, event.id, handler.timeoutMs)
        : await this.http.call(handler, body, `msg_test_${randomBytes(8).toString('hex')}`);
    const record = { ...this.logRecord(null, null, event.id, envelope.event.object_id, handler.id, handler.name, body, 1, 'test', result), stage: handler.stage };
    const id = await this.logs.insert([record]);
    return { ...record, id, errorKind: result.errorKind };
  }

  private execute(handler: HandlerEntity, body: string, messageId: string, eventType: string, stop?: AbortSignal): Promise<CallResult> {
    if (handler.type === 'script') return this.scripts.run(handler, body, eventType, handler.timeoutMs, stop);
    return this.http.call(handler, body, messageId, handler.timeoutMs, stop);
  }

  private outcome(
    delivery: ClaimedDelivery,
    handler: HandlerEntity | undefined,
    attempt: number,
    trigger: LogTrigger,
    result: CallResult,
    update: DeliveryUpdate,
  ): Outcome {
    const log = this.logRecord(delivery.id, delivery.eventId, delivery.eventType, delivery.objectId, delivery.handlerId, handler?.name ?? '(deleted)', EVENT_ENVELOPE, attempt, trigger, result);
    if (update.status === 'skipped') log.status = 'skipped';
    // The failure streak drives automatic disabling; touch the handler row only when it changes.
    let streak: Outcome['streak'];
    if (handler && update.status !== 'skipped') {
      if (result.ok && handler.failingSince !== null) streak = { handlerId: handler.id, failingSince: null };
      if (!result.ok && handler.failingSince === null) streak = { handlerId: handler.id, failingSince: Date.now() };
    }
    return { log, update, streak };
  }

  /**
   * A call cut short at shutdown still reached the handler (or may have), so it gets its log
   * row, or the log would show fewer calls than the receiver saw. The delivery itself was
   * handed back to the queue by the dispatcher, unchanged: another attempt follows.
   */
  private async logAbandoned(delivery: ClaimedDelivery, handler: HandlerEntity, attempt: number, trigger: LogTrigger, result: CallResult): Promise<void> {
    const abandoned = failedAs(result, 'abandoned at shutdown; the delivery was handed back to the queue', 'abandoned');
    const record = this.logRecord(delivery.id, delivery.eventId, delivery.eventType, delivery.objectId, handler.id, handler.name, EVENT_ENVELOPE, attempt, trigger, abandoned);
    try {
      await this.logs.insert([record]);
    } catch (error) {
      this.logger.error(`Could not log the abandoned call of delivery ${delivery.id}: ${(error as Error).message}`);
    }
  }

  /**
   * What the call says about the handler's flow (src/dispatcher/circuit-outcomes.ts): a failure
   * counts towards opening its circuit; a success ends the run (a probe's also closes the
   * circuit), and is worth a write only when it is the probe, when the claim saw failures to
   * reset, or when the failure-rate rule counts every call; a Retry-After holds the handler.
   */
  private flowOutcome(delivery: ClaimedDelivery, result: CallResult): FlowOutcome | undefined {
    const row = delivery.handlerRow;
    const probe = delivery.probe === true;
    const holdUntil = !result.ok && result.retryAfterMs !== null && result.retryAfterMs > 0 ? this.clock.now() + result.retryAfterMs : null;
    if (result.ok && !probe && holdUntil === null && !this.countsEveryCall && (!row || row.circuitFailures === 0)) return undefined;
    return {
      handlerId: delivery.handlerId,
      ok: result.ok,
      probe,
      failuresBefore: row?.circuitFailures ?? 0,
      opensBefore: row?.circuitOpens ?? 0,
      error: result.error,
      holdUntil,
    };
  }

  private failingTooLong(handler: HandlerEntity, now: number): boolean {
    const limit = this.config.dispatch.autoDisableAfterMs;
    return limit > 0 && handler.failingSince !== null && now - handler.failingSince >= limit;
  }

  private logRecord(
    deliveryId: number | null,
    eventId: number | null,
    eventType: string,
    objectId: number,
    handlerId: number,
    handlerName: string,
    payload: LogPayload,
    attempt: number,
    trigger: LogTrigger,
    result: CallResult,
  ): ExecutionLogRecord {
    return {
      deliveryId,
      eventId,
      eventType,
      handlerId,
      handlerName,
      objectId,
      stage: 'after',
      attempt,
      trigger,
      status: result.ok ? 'success' : 'fail',
      requestPayload: payload,
      responseCode: result.responseCode,
      responseBody: result.responseBody,
      error: result.error,
      errorKind: result.errorKind,
      // Whole milliseconds, as the row stores them: the test send answers this record, so it must agree with the row.
      durationMs: Math.max(0, Math.round(result.durationMs)),
      createdAt: Date.now(),
    };
  }
}

