import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { DeliveryQueue, type DeliveryUpdate } from '../../src/dispatcher/delivery-queue.js';
import { DeliveryRunner } from '../../src/dispatcher/delivery-runner.js';
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
 * under a lease, renews it, releases what it will not finish, records outcomes; a lease that
 * ran out is taken over by another worker; the runner makes the call and records it.
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
}

forEachDatabaseModule('delivery queue', {}, (s) => {
  let queue: DeliveryQueue;
  let ingest: IngestService;
  let handlers: HandlerEntity[];
  let receiver: TestReceiver;
  let objectId = 100;

  before(async () => {
    queue = s.get(DeliveryQueue);
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
  const emptyQueue = () => sql("UPDATE deliveries SET status = 'succeeded', blocking = 0, lease_owner = NULL, lease_expires_at = NULL WHERE status IN ('pending', 'in_progress')");
  const enqueue = async () => {
    const id = ++objectId;
    return (await ingest.accept(eventBody({ object_id: id }), undefined, null)).id;
  };
  const rows = async (eventId: number): Promise<Row[]> =>
    (await sql('SELECT id, seq, status, lease_owner, lease_expires_at, attempts FROM deliveries WHERE event_id = ? ORDER BY seq', [eventId])).map(
      (r: Record<string, unknown>) => ({
        id: Number(r.id),
        seq: Number(r.seq),
        status: String(r.status),
        owner: r.lease_owner === null ? null : String(r.lease_owner),
        leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
        attempts: Number(r.attempts),
      }),
    );
  const succeeded = (id: number): DeliveryUpdate => ({ id, status: 'succeeded', attempted: true, nextAttemptAt: 0, manual: false, responseCode: 200, error: null });
  const complete = async (owner: string, updates: DeliveryUpdate[], now: number) => {
    for (const statement of queue.completion(owner, updates, now, 'all')) await sql(statement.sql, statement.params);
  };

  it('ingest enqueues one pending delivery per matching handler, in their run order', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const queued = await rows(eventId);
    assert.equal(queued.length, 2);
    assert.deepEqual(queued.map((r) => [r.status, r.owner, r.attempts]), [['pending', null, 0], ['pending', null, 0]]);
    assert.ok(queued[0]!.seq < queued[1]!.seq);
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

    await complete('worker-a', [succeeded(first!.id)], now + 1);
    const [done] = await rows(eventId);
    assert.deepEqual([done!.status, done!.owner, done!.attempts], ['succeeded', null, 1]);
    const next = await queue.claim('worker-b', 10, now + 2, now + LEASE_MS);
    assert.deepEqual(next.map((d) => d.id), [second!.id]);
  });

  it('records an outcome only while the worker holds the lease', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    await complete('worker-b', [succeeded(claimed!.id)], now + 1);
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
    assert.equal(await queue.releaseExpired(now + 999), 0);
    assert.equal((await rows(eventId))[0]!.owner, 'worker-a');
    assert.equal(await queue.releaseExpired(now + 1001), 1);
    const taken = await queue.claim('worker-b', 10, now + 1002, now + LEASE_MS);
    assert.deepEqual(taken.map((d) => d.id), [claimed!.id]);
    assert.equal((await rows(eventId))[0]!.owner, 'worker-b');
    // The worker that lost it can no longer record an outcome.
    await complete('worker-a', [succeeded(claimed!.id)], now + 1003);
    assert.equal((await rows(eventId))[0]!.status, 'in_progress');
  });

  it('the runner calls the handler and records the outcome and its log', async () => {
    await emptyQueue();
    const eventId = await enqueue();
    const now = Date.now();
    const [claimed] = await queue.claim('worker-a', 10, now, now + LEASE_MS);
    const handler = await s.get(HandlersService).get(claimed!.handlerId);
    const seen = receiver.requests.length;
    await s.get(DeliveryRunner).run('worker-a', claimed!, handler);
    assert.equal(receiver.requests.length, seen + 1);
    assert.equal(receiver.requests.at(-1)!.path, '/first');
    assert.equal(JSON.parse(receiver.requests.at(-1)!.body).event.object_id, objectId);
    const [done] = await rows(eventId);
    assert.deepEqual([done!.status, done!.owner, done!.attempts], ['succeeded', null, 1]);
    const logs = await sql('SELECT status, attempt, response_code FROM execution_logs WHERE event_id = ?', [eventId]);
    assert.deepEqual(logs.map((l: Record<string, unknown>) => [l.status, Number(l.attempt), Number(l.response_code)]), [['success', 1, 200]]);
  });
});
