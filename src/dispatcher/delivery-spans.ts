import { SpanKind, type Attributes, type Context } from '@opentelemetry/api';
import type { HandlerEntity } from '../handlers/handler.entity.js';
import type { ClaimedDelivery } from '../queue/delivery.js';
import { contextOf, inSpan, tracingEnabled } from '../telemetry/tracing.js';

/**
 * The spans of one delivery in its event's trace (src/telemetry/tracing.ts), children of the
 * event's ingest span, whose traceparent is stored with the event: `call` (a client span),
 * `record`, and `claim` for the next delivery of the event claimed by that record. Made only
 * when tracing is on (`of` answers null otherwise): the worker's hot path then pays one
 * boolean test per delivery and builds no attributes.
 */
export class DeliverySpans {
  private constructor(
    private readonly parent: Context,
    private readonly attributes: Attributes,
  ) {}

  /** The spans of `delivery`, or null when tracing is off. */
  static of(delivery: ClaimedDelivery, handler: HandlerEntity | undefined): DeliverySpans | null {
    if (!tracingEnabled()) return null;
    return new DeliverySpans(contextOf(delivery.traceParent), {
      'provisioning.delivery_id': delivery.id,
      'provisioning.event_id': delivery.eventId,
      'provisioning.event': delivery.eventType,
      'provisioning.handler_id': delivery.handlerId,
      'provisioning.handler_type': handler?.type ?? 'deleted',
      'provisioning.attempt': delivery.attempts + 1,
    });
  }

  /** The call to the handler. */
  call<T>(work: () => Promise<T>): Promise<T> {
    return inSpan('call', this.attributes, work, this.parent, SpanKind.CLIENT);
  }

  /** The write of the call's outcome. */
  record<T>(work: () => Promise<T>): Promise<T> {
    return inSpan('record', this.attributes, work, this.parent);
  }

  /** The claim of `next`, done by the record that started at `startedAt`. */
  nextClaimed(next: ClaimedDelivery, startedAt: number): void {
    endedSpan('claim', next, startedAt);
  }
}

/** The spans of a claim already done, one per delivery it took (from `startedAt` until now), when tracing is on. */
export function claimSpans(claimed: readonly ClaimedDelivery[], startedAt: number): void {
  if (tracingEnabled()) for (const delivery of claimed) endedSpan('claim', delivery, startedAt);
}

/** A span for a step already done (the claim of `delivery`, from `startedAt` until now), in the event's trace. */
function endedSpan(name: string, delivery: ClaimedDelivery, startedAt: number): void {
  void inSpan(name, { 'provisioning.delivery_id': delivery.id, 'provisioning.event_id': delivery.eventId }, async () => undefined, contextOf(delivery.traceParent), SpanKind.INTERNAL, startedAt);
}
