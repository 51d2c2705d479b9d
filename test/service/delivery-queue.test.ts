import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { DirectSql } from '../../src/database/direct-sql.js';
import { DeliveryCounts } from '../../src/queue/delivery-counts.js';
import { DeliveryPurge, unfinishedSql } from '../../src/queue/delivery-purge.js';
import { DeliveryQueue } from '../../src/queue/delivery-queue.js';
import { DeliveryReads } from '../../src/queue/delivery-reads.js';
import { DeliveryRequeue } from '../../src/queue/delivery-requeue.js';
import type { ClaimedDelivery, DeliveryUpdate } from '../../src/queue/delivery.js';
import { DeliveryRunner } from '../../src/dispatcher/delivery-runner.js';
import { OutcomeWriter } from '../../src/dispatcher/outcome-writer.js';
import { IngestService } from '../../src/events/ingest.service.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import type { TestReceiver } from '../utils/receiver.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * The delivery queue's steps without HTTP, on each database: ingest enqueues, a worker claims
 * under a lease, renews it, releases what it will not finish, finishes attempts (and claims the
 * next delivery of the event); a lease that ran out is taken over by another worker; failed
 * deliveries are requeued by hand; retention purges finished ones; the gauges count them; the
 * runner makes the call and the outcome writer records it.
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin', 'internal']) };
const LEASE_MS = 30_000;

interface Row {
  id: number;
  seq: number;
  status: string;
  owner: string | null;
  leaseExpiresAt: number | null;
  attempts: number;
  manual: number;
  holdsOrder: number;
  nextAttemptAt: number;
}

forEachDatabaseModule('delivery queue', {}, (s) => {
  let queue: DeliveryQueue;
  let requeues: DeliveryRequeue;
  let reads: DeliveryReads;
  let ingest: IngestService;
  let handlers: HandlerEntity[];
  let receiver: TestReceiver;
  let objectId = 100;

  before(async () => {
    queue = s.get(DeliveryQueue);
    requeues = s.get(DeliveryRequeue);
    reads = s.get(DeliveryReads);
    ingest = s.get(IngestService);
    receiver = await s.receiver();
    const service = s.get(HandlersService);
    // Two handlers of one event, run one after the other by priority.
    handlers = [
      await service.create(handlerBody({ name: 'first', event: 'clients.update', task: receiver.task('/first'), priority: 1 }) as never, admin),
      await service.create(handlerBody({ name: 'second', event: 'clients.update', task: receiver.task('/second'), priority: 2 }) as never, admin),
    ];
  });

  const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
  /** Each test starts from an empty queue: what earlier tests left is marked finished. */
  const emptyQueue = () => sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0, lease_owner = NULL, lease_expires_at = NULL WHERE status IN ('pending', 'in_progress')");
  const enqueue = async (id = ++objectId) => (await ingest.accept(eventBody({ object_id: id }), undefined, null)).id;
  const rows = async (eventId: number): Promise<Row[]> =>
    (
      await sql('SELECT id, seq, status, lease_owner, lease_expires_at, attempts, manual, holds_order, next_attempt_at FROM deliveries WHERE event_id = ? ORDER BY seq', [
        eventId,
      ])
    ).map((r: Record<string, unknown>) => ({
      id: Number(r.id),
      seq: Number(r.seq),
      status: String(r.status),
      owner: r.lease_owner === null ? null : String(r.lease_owner),
      leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
      attempts: Number(r.attempts),
      manual: Number(r.manual),
      holdsOrder: Number(r.holds_order),
      nextAttemptAt: Number(r.next_attempt_at),
    }));
  const succeeded: DeliveryUpdate = { status: 'succeeded', attempted: true, nextAttemptAt: 0, manual: false, responseCode: 200, error: null };
  const failed: DeliveryUpdate = { status: 'failed', attempted: true, nextAttemptAt: 0, manual: false, responseCode: 500, error: 'HTTP 500' };
  /** The queue's finish-and-claim-next step in a transaction of its own, as the outcome writer runs it inside its own. */
  const finish = async (owner: string, delivery: ClaimedDelivery, update: DeliveryUpdate, now: number, claimNext = false): Promise<ClaimedDelivery[]> => {
    const direct = s.get(DirectSql);
    const attempts = [{ owner, delivery, update, claimNext }];
    if (!direct.mysql) return direct.transactionSqlite(() => queue.finishAndClaimNextSqlite(attempts, now, now + LEASE_MS));
    const step = queue.finishAndClaimNextScriptMysql(attempts, now, now + LEASE_MS);
    return step.claimed(await direct.scriptTransaction(step.first, { then: step.then }));
  };

  it('ingest enqueues one pending delivery per matching handler, in their run order', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const queued = await rows(eventId);
    assert.equal(queued.length, 2);
    assert.deepEqual(queued.map((r) => [r.status, r.owner, r.attempts]), [['pending', null, 0], ['pending', null, 0]]);
    assert.ok(queued[0]!.seq < queued[1]!.seq);
    assert.deepEqual(queued.map((r) => r.holdsOrder), [1, 1], 'first attempts hold the order of their object');
  });

  it('ingest stores an event sent again under its idempotency key once, and answers the first acceptance', async () => {
    await emptyQueue();
    const body = eventBody({ object_id: ++objectId });
    const first = await ingest.accept(body, 'service-tier-key', null);
    const again = await ingest.accept(body, 'service-tier-key', null);
    assert.equal(first.replayed, false);
    assert.equal(again.replayed, true);
    assert.equal(again.id, first.id);
    assert.equal((await rows(first.id)).length, 2, 'its deliveries were planned once');
    assert.deepEqual(again.deliveries, first.deliveries, 'the replay names the planned deliveries (plannedFor)');
  });

  it('claims the first delivery of an event under a lease; the next waits until the first is finished', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const claimed = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const [first, second] = await rows(eventId);
    assert.deepEqual(claimed.map((d) => d.id), [first!.id]);
    assert.equal(claimed[0]!.handlerId, handlers[0]!.id);
    assert.equal(claimed[0]!.eventId, eventId);
    assert.deepEqual([first!.status, first!.owner, first!.leaseExpiresAt], ['in_progress', 'worker-a', now + LEASE_MS]);
    assert.equal(second!.status, 'pending');
    assert.deepEqual(await queue.claim('worker-b', 10, now, now + LEASE_MS), [], 'nothing else is due');

    await finish('worker-a', claimed[0]!, succeeded, now + 1);
    assert.deepEqual((await rows(eventId)).map((r) => r.id), [second!.id], 'a success leaves the queue');
    const next = await queue.claim('worker-b', 10, now + 2, now + LEASE_MS);
    assert.deepEqual(next.map((d) => d.id), [second!.id]);
  });

  it('finish and claim next: the next delivery of the event is claimed for the same worker in the same step, with the event it carries', async () => {
    await emptyQueue();
    const object = ++objectId;
    const eventId = await enqueue(object);
    const later = await enqueue(object);
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const [first] = await rows(eventId);
    const next = await finish('worker-a', claimed!, succeeded, now + 1, true);
    const [second, ...others] = await rows(eventId);
    assert.deepEqual([second!.id > first!.id, others], [true, []], 'the first succeeded and left the queue');
    assert.deepEqual(next.map((d) => d.id), [second!.id]);
    assert.deepEqual([second!.status, second!.owner, second!.leaseExpiresAt], ['in_progress', 'worker-a', now + 1 + LEASE_MS]);
    const [successor] = next;
    assert.deepEqual(
      [successor!.eventId, successor!.eventType, successor!.objectId, successor!.dt, JSON.parse(successor!.dataJson), successor!.handlerId, successor!.holdsOrder],
      [eventId, 'clients.update', object, claimed!.dt, { id: object }, handlers[1]!.id, true],
    );
    assert.equal(successor!.handlerRow?.status, 'enabled', 'the handler state is read with the claim');
    assert.deepEqual(await queue.claim('worker-b', 10, now + 2, now + LEASE_MS), [], 'the later event on the object still waits');
    assert.deepEqual((await rows(later)).map((r) => r.status), ['pending', 'pending']);
  });

  it('an attempt that ends in a retry no longer holds the order: the next delivery goes ahead, the retry waits until due', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const retry: DeliveryUpdate = { status: 'pending', attempted: true, nextAttemptAt: now + 60_000, manual: false, responseCode: 503, error: 'HTTP 503' };
    const next = await finish('worker-a', claimed!, retry, now + 1, true);
    const [first, second] = await rows(eventId);
    assert.deepEqual([first!.status, first!.attempts, first!.holdsOrder, first!.nextAttemptAt, first!.owner], ['pending', 1, 0, now + 60_000, null]);
    assert.deepEqual(next.map((d) => d.id), [second!.id], 'the next handler of the event goes ahead');
    assert.deepEqual(await queue.claim('worker-b', 10, now + 2, now + LEASE_MS), [], 'the retry is not due yet');
    assert.deepEqual((await queue.claim('worker-b', 10, now + 60_000, now + LEASE_MS)).map((d) => d.id), [first!.id], 'due: claimed again');
  });

  it('claim next takes only the next handler in run order, never a due retry of the event: the worker is handed one successor per event', async () => {
    await emptyQueue();
    // Three handlers of an event of their own (the suite's other tests count two deliveries per clients.update).
    const service = s.get(HandlersService);
    for (const priority of [1, 2, 3]) {
      await service.create(handlerBody({ name: `chain ${priority}`, event: 'clients.delete', task: receiver.task(`/chain${priority}`), priority }) as never, admin);
    }
    const eventId = (await ingest.accept(eventBody({ event: 'clients.delete', object_id: ++objectId }), undefined, null)).id;
    const now = Date.now();
    const [first] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const retry: DeliveryUpdate = { status: 'pending', attempted: true, nextAttemptAt: now + 2, manual: false, responseCode: 500, error: 'HTTP 500' };
    const [second, ...more] = await finish('worker-a', first!, retry, now + 1, true);
    assert.deepEqual([second?.seq, more], [1, []], 'the second handler only');
    // The second handler's attempt ends after the first one's retry came due.
    const next = await finish('worker-a', second!, succeeded, now + 3, true);
    const [a, c, ...others] = await rows(eventId);
    assert.deepEqual(next.map((d) => d.id), [c!.id], 'the third handler only: the outcome writer hands the worker one successor per event');
    assert.deepEqual([a!.status, a!.owner, a!.attempts], ['pending', null, 1], 'the due retry is left to the general claim, not claimed for nobody to run');
    assert.deepEqual([c!.id > second!.id, others], [true, []], 'the second succeeded and left the queue');
    assert.deepEqual((await queue.claim('worker-b', 10, now + 4, now + LEASE_MS)).map((d) => d.id), [a!.id]);
  });

  it('records an outcome only while the worker holds the lease', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    assert.deepEqual(await finish('worker-b', claimed!, succeeded, now + 1, true), []);
    assert.equal((await rows(eventId))[0]!.status, 'in_progress', 'another worker cannot finish it');
  });

  it('renews only the leases the worker holds', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    await queue.renew('worker-b', [claimed!.id], now + 5 * LEASE_MS);
    assert.equal((await rows(eventId))[0]!.leaseExpiresAt, now + LEASE_MS);
    await queue.renew('worker-a', [claimed!.id], now + 2 * LEASE_MS);
    assert.equal((await rows(eventId))[0]!.leaseExpiresAt, now + 2 * LEASE_MS);
  });

  it('release hands a delivery back to the queue, to be claimed again', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    await queue.release('worker-b', [claimed!.id], now);
    assert.equal((await rows(eventId))[0]!.owner, 'worker-a', 'only its owner releases it');
    await queue.release('worker-a', [claimed!.id], now);
    const [back] = await rows(eventId);
    assert.deepEqual([back!.status, back!.owner, back!.leaseExpiresAt, back!.attempts], ['pending', null, null, 0]);
    assert.deepEqual((await queue.claim('worker-b', 10, now, now + LEASE_MS)).map((d) => d.id), [claimed!.id]);
  });

  it('takes over a delivery whose lease ran out: released for any worker, never before the lease ends', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + 1000);
    assert.equal(await queue.takeOverExpired(now + 999), 0);
    assert.equal((await rows(eventId))[0]!.owner, 'worker-a');
    assert.equal(await queue.takeOverExpired(now + 1001), 1);
    const taken = await queue.claim('worker-b', 10, now + 1002, now + LEASE_MS);
    assert.deepEqual(taken.map((d) => d.id), [claimed!.id]);
    assert.equal((await rows(eventId))[0]!.owner, 'worker-b');
    // The worker that lost it can no longer record an outcome.
    await finish('worker-a', claimed!, succeeded, now + 1003);
    assert.equal((await rows(eventId))[0]!.status, 'in_progress');
  });

  it('requeues a failed or skipped delivery by hand, marked manual and due now; nothing else', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    assert.equal(await requeues.requeue(claimed!.id, now), false, 'an attempt in progress is not requeued');
    await finish('worker-a', claimed!, failed, now + 1);
    assert.deepEqual(await requeues.find(claimed!.id), { id: claimed!.id, handlerId: handlers[0]!.id, status: 'failed' });
    assert.equal(await requeues.find(99_999_999), null);
    assert.equal(await requeues.requeue(claimed!.id, now + 2), true);
    const [again] = await rows(eventId);
    assert.deepEqual([again!.status, again!.manual, again!.nextAttemptAt, again!.attempts], ['pending', 1, now + 2, 1]);
    assert.equal(await requeues.requeue(claimed!.id, now + 3), false, 'pending already');
  });

  it('requeue failed: every failed delivery of one handler created within the range', async () => {
    await emptyQueue();
    const from = Date.now();
    const events = [await enqueue(), await enqueue(), await enqueue()];
    const now = Date.now();
    const claimed = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    assert.equal(claimed.length, 3, 'the first delivery of each event');
    for (const delivery of claimed) await finish('worker-a', delivery, failed, now + 1);
    const [oldest] = await rows(events[0]!);
    await sql('UPDATE deliveries SET created_at = ? WHERE id = ?', [from - 3_600_000, oldest!.id]);
    const second = await queue.claim('worker-a', 10, now + 2, now + LEASE_MS);
    assert.equal(second.length, 3, 'the second handlers, now that the first ones failed');
    await finish('worker-a', second[0]!, failed, now + 3);

    assert.equal(await requeues.requeueFailed(handlers[0]!.id, from, now + 60_000, now + 4), 2, 'not the one created before the range');
    const states = await Promise.all(events.map(async (id) => (await rows(id)).map((r) => [r.status, r.manual])));
    assert.deepEqual(states, [
      [['failed', 0], ['failed', 0]],
      [['pending', 1], ['in_progress', 0]],
      [['pending', 1], ['in_progress', 0]],
    ]);
  });

  it('purge finished: deletes the deliveries of events none of whose deliveries is pending or in progress, and names those events', async () => {
    await emptyQueue();
    const done = await enqueue();
    const waiting = await enqueue();
    const running = await enqueue();
    await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0 WHERE event_id = ?", [done]);
    await sql("UPDATE deliveries SET status = 'failed', holds_order = 0 WHERE event_id = ? AND seq = 0", [waiting]);
    const now = Date.now();
    await queue.claim('worker-a', 10, now, now + LEASE_MS);
    assert.equal((await rows(running))[0]!.status, 'in_progress');
    const direct = s.get(DirectSql);
    const purge = s.get(DeliveryPurge);
    const events = [done, waiting, running];
    const purged = direct.mysql
      ? await direct.transactionMysql((session) => purge.purgeFinishedMysql(session, events))
      : await direct.transactionSqlite(() => purge.purgeFinishedSqlite(events));
    assert.deepEqual(purged, [done]);
    assert.deepEqual(
      await Promise.all([done, waiting, running].map(async (id) => (await rows(id)).length)),
      [0, 2, 2],
    );
  });

  it('purge finished reads a batch through the event index, not through every pending delivery of the queue', async () => {
    // A backlog of pending deliveries (a target that is down) makes a status-first index look attractive to the planner.
    // A batch as retention reads it (RETENTION_BATCH_SIZE 2,000: 500 events).
    for (let i = 0; i < 20; i++) await enqueue();
    const events = Array.from({ length: 500 }, (_, i) => i + 1);
    const direct = s.get(DirectSql);
    const text = unfinishedSql(direct.mysql, events.length);
    const plan: Record<string, unknown>[] = await sql(direct.mysql ? `EXPLAIN ${text}` : `EXPLAIN QUERY PLAN ${text}`, events);
    const used = plan.map((row) => String(direct.mysql ? row.key : row.detail)).join(' | ');
    assert.match(used, /idx_deliveries_event/, used);
    assert.doesNotMatch(used, /idx_deliveries_handler_due|idx_deliveries_due/, used);
  });

  it('counts the deliveries of the shared queue by state, and when the oldest due one came due', async () => {
    await emptyQueue();
    const depth = s.get(DeliveryCounts);
    const before = await depth.counts(Date.now());
    assert.deepEqual([before.due, before.scheduled, before.inFlight, before.oldestDueAt], [0, 0, 0, null]);
    const [a, b] = [await enqueue(), await enqueue()];
    const now = Date.now();
    await sql('UPDATE deliveries SET next_attempt_at = ? WHERE event_id = ?', [now - 5000, a]);
    await sql('UPDATE deliveries SET next_attempt_at = ? WHERE event_id = ?', [now + 3_600_000, b]);
    const [claimed] = await queue.claim('worker-a', 1, now, now + LEASE_MS);
    assert.equal(claimed!.eventId, a);
    await finish('worker-a', claimed!, failed, now);
    const counts = await depth.counts(now);
    assert.deepEqual(counts, { due: 1, scheduled: 2, inFlight: 0, failed: before.failed + 1, oldestDueAt: now - 5000 });
    await queue.claim('worker-a', 1, now, now + LEASE_MS);
    assert.deepEqual([(await depth.counts(now)).due, (await depth.counts(now)).inFlight], [0, 1]);
  });

  it('reads the deliveries of an event in run order, with their handlers and states (the event detail)', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    await finish('worker-a', claimed!, failed, now + 1);
    const states = await reads.deliveriesOf(eventId);
    assert.deepEqual(
      states.map((d) => [d.handlerId, d.handlerName, d.seq, d.status, d.attempts, d.lastResponseCode, d.lastError]),
      [
        [handlers[0]!.id, 'first', 0, 'failed', 1, 500, 'HTTP 500'],
        [handlers[1]!.id, 'second', 1, 'pending', 0, null, null],
      ],
    );
    const detail = await ingest.get(eventId);
    assert.deepEqual(detail.deliveries.map((d) => [d.status, d.next_attempt_at === null]), [['failed', true], ['pending', false]]);
    assert.deepEqual((await reads.plannedFor([eventId])).get(eventId), [
      { id: states[0]!.id, handlerId: handlers[0]!.id, handlerName: 'first', seq: 0 },
      { id: states[1]!.id, handlerId: handlers[1]!.id, handlerName: 'second', seq: 1 },
    ]);
  });

  it('the runner calls the handler and records the outcome and its log', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const [, waiting] = await rows(eventId);
    const handler = await s.get(HandlersService).get(claimed!.handlerId);
    const seen = receiver.requests.length;
    const outcome = await s.get(DeliveryRunner).run(claimed!, handler);
    assert.ok(outcome);
    await s.get(OutcomeWriter).record('worker-a', claimed!, outcome);
    assert.equal(receiver.requests.length, seen + 1);
    assert.equal(receiver.requests.at(-1)!.path, '/first');
    assert.equal(JSON.parse(receiver.requests.at(-1)!.body).event.object_id, objectId);
    assert.ok(!(await rows(eventId)).some((r) => r.id === claimed!.id), 'it succeeded and left the queue');
    const logs = await sql('SELECT delivery_id, status, attempt, response_code FROM execution_logs WHERE event_id = ?', [eventId]);
    assert.deepEqual(
      logs.map((l: Record<string, unknown>) => [Number(l.delivery_id), l.status, Number(l.attempt), Number(l.response_code)]),
      [[claimed!.id, 'success', 1, 200]],
      'its log row, written with the outcome, is its record now',
    );
    const detail = await ingest.get(eventId);
    assert.deepEqual(
      detail.deliveries.map((d) => [d.id, d.seq, d.status, d.attempts, d.last_response_code]),
      [
        [claimed!.id, 0, 'succeeded', 1, 200],
        [waiting!.id, 1, 'pending', 0, null],
      ],
      'the event detail tells it from its log row, in its place',
    );
  });

  it('the outcome writer answers the next delivery of the event, claimed with the outcome, when the worker asks for it', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const runner = s.get(DeliveryRunner);
    const writer = s.get(OutcomeWriter);
    const [, waiting] = await rows(eventId);
    const outcome = await runner.run(claimed!, await s.get(HandlersService).get(claimed!.handlerId));
    const next = await writer.record('worker-a', claimed!, outcome!, { claimNext: true });
    const [second, ...others] = await rows(eventId);
    assert.deepEqual([second!.id, others], [waiting!.id, []], 'the first succeeded and left the queue');
    assert.equal(next?.id, second!.id);
    assert.deepEqual([second!.status, second!.owner], ['in_progress', 'worker-a']);
    const last = await runner.run(next!, await s.get(HandlersService).get(next!.handlerId));
    assert.equal(await writer.record('worker-a', next!, last!, { claimNext: true }), null, 'the last handler of the event has no next');
    assert.deepEqual(await rows(eventId), [], 'both succeeded');
    assert.deepEqual(
      (await ingest.get(eventId)).deliveries.map((d) => [d.seq, d.status]),
      [
        [0, 'succeeded'],
        [1, 'succeeded'],
      ],
    );
    assert.deepEqual(receiver.requests.slice(-2).map((r) => r.path), ['/first', '/second']);
  });
});
