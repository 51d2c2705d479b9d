import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock.js';
import { IngestService } from '../../src/events/ingest.service.js';
import { HandlerPausesService } from '../../src/handlers/handler-pauses.service.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import { eventually, type Received, type Responder, type TestReceiver } from '../utils/receiver.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';
import { TestClock } from '../utils/test-clock.js';
import { deliveryRows } from '../utils/delivery-rows.js';

/**
 * Flow control with the worker running (DispatcherService in the testing module), on each
 * database: a hanging target holds no more than its cap of call slots while another handler's
 * events arrive; a pause and a maintenance window hold every delivery and let them go in their
 * order; the circuit opens, holds, probes, closes, and the deliveries that waited spend no
 * attempt while it is open. Loose, load-tolerant bounds: the tight figures belong to the
 * benchmark.
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin', 'internal']) };
const clock = new TestClock();
const CONCURRENCY = 8;
const CAP = CONCURRENCY / 2;

forEachDatabaseModule(
  'flow control with the worker running',
  {
    INSTANCE_ROLE: 'both',
    DISPATCH_CONCURRENCY: String(CONCURRENCY),
    DISPATCH_POLL_INTERVAL_MS: '100',
    CIRCUIT_FAILURE_THRESHOLD: '3',
    CIRCUIT_COOLDOWN: '30s',
    RETRY_SCHEDULE: '300ms',
    SHUTDOWN_GRACE_MS: '200',
  },
  (s) => {
    let service: HandlersService;
    let pauses: HandlerPausesService;
    let ingest: IngestService;
    let objectId = 5000;

    before(() => {
      service = s.get(HandlersService);
      pauses = s.get(HandlerPausesService);
      ingest = s.get(IngestService);
    });

    const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
    const handler = (name: string, event: string, receiver: TestReceiver, extra: Record<string, unknown> = {}): Promise<HandlerEntity> =>
      service.create(handlerBody({ name, event, task: receiver.task(`/${name}`), ...extra }) as never, admin);
    const post = async (event: string, id = ++objectId) => (await ingest.accept(eventBody({ event, object_id: id }), undefined, null)).id;
    const deliveriesOf = async (h: HandlerEntity) => (await deliveryRows(sql, { handlerId: h.id })).map(({ id, status, attempts }) => ({ id, status, attempts }));
    /** The delivery id a call carried (webhook-id msg_d<id>, the same on every attempt). */
    const deliveryId = (request: Received) => Number(String(request.headers['webhook-id']).slice('msg_d'.length));
    const objectOf = (request: Received) => JSON.parse(request.body).event.object_id as number;
    const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const archive = (h: HandlerEntity) => service.update(h.id, { status: 'archived' } as never, admin);

    it('a target that hangs holds no more than its cap of call slots while another handler\'s events arrive', async (t) => {
      const hanging = await s.receiver(() => ({ hang: true }));
      const healthy = await s.receiver();
      const stuck = await handler('hangs', 'clients.create', hanging, { timeout_ms: 5000, retry_limit: 0 });
      const fine = await handler('healthy', 'clients.update', healthy);
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, hanging.inFlight.now)), 5);
      try {
        for (let i = 0; i < 40; i++) await post('clients.create');
        await eventually(() => (hanging.inFlight.now >= CAP ? true : undefined), 5000, 'the hanging target holds its cap');
        const started = Date.now();
        for (let i = 0; i < 30; i++) await post('clients.update');
        await healthy.waitFor(30, 4000);
        const took = Date.now() - started;
        t.diagnostic(`30 events of the healthy handler arrived in ${took} ms while the other target hung with ${hanging.inFlight.now} calls open`);
        assert.ok(took < 4000);
        assert.ok(peak <= CAP && hanging.inFlight.peak <= CAP, `at most ${CAP} calls open at the hanging target at once (saw ${hanging.inFlight.peak})`);
        assert.equal(hanging.inFlight.now, CAP, 'its calls wait for their timeout (5 s)');
        assert.equal(hanging.requests.length, CAP, 'no other call of it started meanwhile');
      } finally {
        clearInterval(sampler);
        await archive(stuck);
        await archive(fine);
      }
    });

    it('pause holds every delivery while the other handlers of the same events go on; resume delivers them all, in order per object', async () => {
      const paused = await s.receiver();
      const other = await s.receiver();
      const held = await handler('paused', 'clients.delete', paused, { priority: 1 });
      const next = await handler('after-paused', 'clients.delete', other, { priority: 2 });
      try {
        await pauses.pause(held.id, { reason: 'maintenance' }, admin);
        const objects = [++objectId, ++objectId];
        for (let i = 0; i < 4; i++) for (const object of objects) await post('clients.delete', object);
        await other.waitFor(8, 5000);
        await settle(400);
        assert.equal(paused.requests.length, 0, 'nothing reached the paused handler');
        assert.deepEqual((await deliveriesOf(held)).map((d) => [d.status, d.attempts]), new Array(8).fill(['pending', 0]), 'held, none skipped');

        await pauses.resume(held.id, admin);
        await paused.waitFor(8, 5000);
        for (const object of objects) {
          const ids = paused.requests.filter((request) => objectOf(request) === object).map(deliveryId);
          assert.deepEqual(ids, [...ids].sort((a, b) => a - b), `object ${object}: in event order`);
          assert.equal(ids.length, 4);
        }
        // The receiver has the calls a moment before their outcomes are written.
        await eventually(async () => ((await deliveriesOf(held)).every((d) => d.status === 'succeeded') ? true : undefined), 5000, 'all recorded');
        assert.deepEqual((await deliveriesOf(held)).map((d) => [d.status, d.attempts]), new Array(8).fill(['succeeded', 1]));
      } finally {
        await archive(held);
        await archive(next);
      }
    });

    it('a maintenance window holds the deliveries by the clock and lets them go in order when it ends', async () => {
      const receiver = await s.receiver();
      const windowed = await handler('windowed', 'clients.archive', receiver);
      try {
        const from = clock.now() + 3_600_000;
        await pauses.addWindow(windowed.id, { from: new Date(from).toISOString(), to: new Date(from + 3_600_000).toISOString() }, admin);
        clock.advance(90 * 60_000);
        const object = ++objectId;
        for (let i = 0; i < 5; i++) await post('clients.archive', object);
        await settle(500);
        assert.equal(receiver.requests.length, 0, 'held inside the window');
        clock.advance(60 * 60_000);
        await receiver.waitFor(5, 5000);
        const ids = receiver.requests.map(deliveryId);
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in event order');
      } finally {
        clock.advance(-150 * 60_000);
        await archive(windowed);
      }
    });

    it('the circuit opens after a run of failures, the deliveries wait without spending attempts, one probe after the cool-down closes it, and all are delivered', async () => {
      let failing = true;
      const responder: Responder = () => (failing ? { status: 503 } : { status: 200 });
      const receiver = await s.receiver(responder);
      const fragile = await handler('fragile', 'clients.balance_zero', receiver, { retry_limit: 5 });
      try {
        for (let i = 0; i < 3; i++) await post('clients.balance_zero');
        await eventually(async () => {
          const [row] = await sql('SELECT circuit_state FROM handlers WHERE id = ?', [fragile.id]);
          return row.circuit_state === 'open' ? true : undefined;
        }, 5000, 'the circuit opened');
        for (let i = 0; i < 5; i++) await post('clients.balance_zero');
        // The three retries come due after 300 ms; with the circuit open neither they nor the new ones go out.
        await settle(800);
        assert.equal(receiver.requests.length, 3, 'only the three calls that opened it');
        const waiting = (await deliveriesOf(fragile)).slice(3);
        assert.deepEqual(waiting.map((d) => [d.status, d.attempts]), new Array(5).fill(['pending', 0]), 'waiting, no attempt spent');

        failing = false;
        clock.advance(31_000);
        await receiver.waitFor(11, 5000);
        await eventually(async () => ((await deliveriesOf(fragile)).every((d) => d.status === 'succeeded') ? true : undefined), 5000, 'all delivered');
        await settle(300);
        assert.equal(receiver.requests.length, 11, 'the three failures, then each delivery once: one probe, no extra calls');
        const [row] = await sql('SELECT circuit_state, circuit_failures FROM handlers WHERE id = ?', [fragile.id]);
        assert.deepEqual([row.circuit_state, Number(row.circuit_failures)], ['closed', 0]);
        const states = await deliveriesOf(fragile);
        assert.deepEqual(states.slice(0, 3).map((d) => d.attempts), [2, 2, 2], 'the three that failed: one retry each');
        assert.deepEqual(states.slice(3).map((d) => d.attempts), [1, 1, 1, 1, 1], 'the five that waited: one attempt each');
        const logged = await sql("SELECT COUNT(*) AS n FROM execution_logs WHERE handler_id = ? AND status = 'fail'", [fragile.id]);
        assert.equal(Number(logged[0].n), 3, 'three failed calls logged, no more');
      } finally {
        clock.advance(-31_000);
        await archive(fragile);
      }
    });
  },
  [{ provide: Clock, useValue: clock }],
);
