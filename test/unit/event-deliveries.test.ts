import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eventDeliveries, plannedDeliveries } from '../../src/events/event-deliveries.js';
import type { DeliveredAttempt } from '../../src/execution-logs/delivered-logs.js';
import type { DeliveryState } from '../../src/queue/delivery.js';

/** An event's deliveries made whole from the queue's rows and the success log rows of those that left it. */
const queued = (id: number, seq: number, status: DeliveryState['status']): DeliveryState => ({
  id,
  handlerId: 100 + seq,
  handlerName: `queued ${seq}`,
  seq,
  status,
  attempts: status === 'pending' ? 0 : 1,
  nextAttemptAt: 5,
  lastResponseCode: status === 'failed' ? 500 : null,
  lastError: status === 'failed' ? 'HTTP 500' : null,
  updatedAt: 5,
});
const delivered = (deliveryId: number, eventId = 1, attempt = 1): DeliveredAttempt => ({
  deliveryId,
  eventId,
  handlerId: 200 + deliveryId,
  handlerName: `delivered ${deliveryId}`,
  attempt,
  responseCode: 204,
  error: null,
  at: 1000 + deliveryId,
});

describe('eventDeliveries', () => {
  it('puts each delivery that left the queue in its place by id, its seq its place in run order', () => {
    const whole = eventDeliveries([queued(12, 1, 'failed'), queued(14, 3, 'pending')], [delivered(13, 1, 2), delivered(11)]);
    assert.deepEqual(
      whole.map((d) => [d.id, d.seq, d.status, d.attempts, d.handlerName, d.lastResponseCode, d.updatedAt]),
      [
        [11, 0, 'succeeded', 1, 'delivered 11', 204, 1011],
        [12, 1, 'failed', 1, 'queued 1', 500, 5],
        [13, 2, 'succeeded', 2, 'delivered 13', 204, 1013],
        [14, 3, 'pending', 0, 'queued 3', null, 5],
      ],
    );
  });

  it("keeps the queue's row when a delivery is in both (a success from before successes left the queue)", () => {
    const legacy = { ...queued(11, 0, 'succeeded'), handlerName: 'current name' };
    assert.deepEqual(
      eventDeliveries([legacy], [delivered(11)]).map((d) => [d.id, d.handlerName]),
      [[11, 'current name']],
    );
  });

  it('answers every delivery from the logs when none is left in the queue, and nothing for an event with none', () => {
    assert.deepEqual(
      eventDeliveries([], [delivered(22), delivered(21)]).map((d) => [d.id, d.seq]),
      [
        [21, 0],
        [22, 1],
      ],
    );
    assert.deepEqual(eventDeliveries([], []), []);
  });
});

describe('plannedDeliveries', () => {
  it('names, per event, the deliveries still queued and those delivered, in run order', () => {
    const planned = plannedDeliveries(
      new Map([[1, [{ id: 12, handlerId: 7, handlerName: 'seven', seq: 1 }]]]),
      [delivered(11, 1), delivered(31, 3), delivered(32, 3)],
    );
    assert.deepEqual(planned.get(1), [
      { handlerId: 211, handlerName: 'delivered 11', seq: 0 },
      { handlerId: 7, handlerName: 'seven', seq: 1 },
    ]);
    assert.deepEqual(planned.get(3)!.map((d) => d.seq), [0, 1]);
    assert.equal(planned.get(2), undefined);
  });
});
