import type { DeliveredAttempt } from '../execution-logs/delivered-logs.js';
import type { DeliveryState, PlannedDeliveryName, QueuedDeliveryName } from '../queue/delivery.js';

/*
 * The deliveries of an event, whole again: a delivery that succeeded has left the queue and is
 * told by its success log row (src/execution-logs/delivered-logs.ts). An event's deliveries are
 * enqueued together in run order, so their ids ascend with `seq` (0, 1, 2, …): a delivery that
 * left the queue takes its place by its id. A row still in the queue wins over a success log row
 * of the same delivery: the delivery is still to do (a call that succeeded after its lease ran
 * out, which another worker sends again), or it is a success from before deliveries left the
 * queue on success. The caller reads the queue before the logs, so no delivery falls between.
 */

/** The deliveries of one event for its detail, in run order. */
export function eventDeliveries(queued: readonly DeliveryState[], delivered: readonly DeliveredAttempt[]): DeliveryState[] {
  const inQueue = new Set(queued.map((delivery) => delivery.id));
  const succeeded: DeliveryState[] = delivered
    .filter((attempt) => !inQueue.has(attempt.deliveryId))
    .map((attempt) => ({
      id: attempt.deliveryId,
      handlerId: attempt.handlerId,
      handlerName: attempt.handlerName,
      seq: -1,
      status: 'succeeded',
      attempts: attempt.attempt,
      nextAttemptAt: attempt.at,
      lastResponseCode: attempt.responseCode,
      lastError: attempt.error,
      updatedAt: attempt.at,
    }));
  return inRunOrder([...queued, ...succeeded]);
}

/** The deliveries planned for each event (idempotent replays), those still queued and those delivered, in run order. */
export function plannedDeliveries(queued: ReadonlyMap<number, QueuedDeliveryName[]>, delivered: readonly DeliveredAttempt[]): Map<number, PlannedDeliveryName[]> {
  const byEvent = new Map<number, QueuedDeliveryName[]>();
  const add = (eventId: number, delivery: QueuedDeliveryName) => {
    const list = byEvent.get(eventId);
    if (list) list.push(delivery);
    else byEvent.set(eventId, [delivery]);
  };
  for (const [eventId, list] of queued) for (const delivery of list) add(eventId, delivery);
  const inQueue = new Set([...byEvent.values()].flatMap((list) => list.map((delivery) => delivery.id)));
  for (const attempt of delivered) {
    if (!inQueue.has(attempt.deliveryId)) add(attempt.eventId, { id: attempt.deliveryId, handlerId: attempt.handlerId, handlerName: attempt.handlerName, seq: -1 });
  }
  return new Map([...byEvent].map(([eventId, list]) => [eventId, inRunOrder(list).map(({ handlerId, handlerName, seq }) => ({ handlerId, handlerName, seq }))]));
}

/** By id; a delivery told by its log row takes its place as its seq. */
function inRunOrder<T extends { id: number; seq: number }>(deliveries: T[]): T[] {
  return deliveries.sort((a, b) => a.id - b.id).map((delivery, place) => (delivery.seq < 0 ? { ...delivery, seq: place } : delivery));
}
