import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock.js';
import { HandlerPausesService } from '../../src/handlers/handler-pauses.service.js';
import { createHandler, type CreatedHandler } from '../factories/handler.factory.js';
import { postEvent } from '../factories/event.factory.js';
import { eventually, type Received, TestReceiver } from '../utils/receiver.js';
import { forEachDatabase, type Suite } from '../utils/suite.js';
import { takeOverClock } from '../utils/test-clock.js';
import { deliveryRows } from '../utils/delivery-rows.js';

/**
 * Pauses that begin and end by the clock, told as operational events, on each database: a
 * maintenance window's start and end, a timed pause running out, and an end that an operator's
 * write comes upon before the check does. Each boundary is stored once however many checks run
 * at once, and the deliveries held meanwhile go out in their order afterwards.
 */
const MINUTE = 60_000;

interface Told {
  request: Received;
  deliveryId: number;
  envelope: { event: { events_id: string; object_id: number }; data: Record<string, unknown> };
}

/** What both suites share: a pager subscribed to the handler events, a clock the test moves, and ways to read what was told. */
function setUp(t: Suite) {
  const state = {} as { pager: TestReceiver; pagerHandler: CreatedHandler; clock: { advance(ms: number): void } };
  before(async () => {
    state.clock = takeOverClock(t.app.get(Clock));
    state.pager = await t.receiver();
    state.pagerHandler = await createHandler(t, { name: 'pager', event: 'provisioning.handler.*', task: state.pager.task('/ops') });
  });
  const flowNow = () => t.app.get(Clock).now();
  const iso = (ms: number) => new Date(ms).toISOString();
  /** The pager's calls about `handlerId`, each checked against the pager's signing secret. */
  const told = (handlerId: number, type?: string): Told[] =>
    state.pager.requests
      .map((request) => {
        assert.doesNotThrow(() => new Webhook(state.pagerHandler.signing_secret).verify(request.body, request.headers as Record<string, string>), 'signed with the pager secret');
        return { request, deliveryId: Number(String(request.headers['webhook-id']).replace('msg_d', '')), envelope: JSON.parse(request.body) };
      })
      .filter((call) => call.envelope.event.object_id === handlerId && (type === undefined || call.envelope.event.events_id === type));
  const waitForTold = (handlerId: number, type: string, what: string) => eventually(() => told(handlerId, type)[0], 10_000, what);
  /** How many times the event was stored: once per boundary, whatever reached the pager. */
  const stored = async (handlerId: number, type: string) =>
    Number((await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM events WHERE events_id = ? AND object_id = ?', [type, handlerId]))[0].n);
  /** The pager's execution log row of the call, and its payload is what was received. */
  const assertLogged = async (call: Told) => {
    const row = await eventually(async () => {
      const items = (await t.http.get(`/api/v1/execution-logs?handler_id=${state.pagerHandler.id}&event=${call.envelope.event.events_id}&limit=500`).set(t.admin)).body.items;
      return items.find((item: { delivery_id: number; status: string }) => item.delivery_id === call.deliveryId && item.status === 'success');
    }, 10_000, `log row of delivery ${call.deliveryId}`);
    const detail = (await t.http.get(`/api/v1/execution-logs/${row.id}`).set(t.admin).expect(200)).body;
    assert.equal(detail.request_payload, call.request.body);
  };
  const deliveries = async (handlerId: number): Promise<[string, number][]> =>
    (await deliveryRows((text, params) => t.app.get(DataSource).query(text, params), { handlerId })).map((row) => [row.status, row.attempts]);
  /** Two checks at once, as two instances (or a slow tick and the next) would run them. */
  const checkTwiceAtOnce = () => Promise.all([t.app.get(HandlerPausesService).checkBoundaries(), t.app.get(HandlerPausesService).checkBoundaries()]);
  /** The delivery ids the target got, in the order it got them (webhook-id msg_d<id>). */
  const deliveryIds = (receiver: TestReceiver) => receiver.requests.map((request) => Number(String(request.headers['webhook-id']).slice('msg_d'.length)));
  return { state, flowNow, iso, told, waitForTold, stored, assertLogged, deliveries, checkTwiceAtOnce, deliveryIds };
}

forEachDatabase('pauses told by the clock', { env: { PAUSE_CHECK_CRON: '* * * * * *', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  const { state, flowNow, iso, told, waitForTold, stored, assertLogged, deliveries, checkTwiceAtOnce, deliveryIds } = setUp(t);

  it('a maintenance window is told paused when the clock passes its start and resumed at its end, once each; its deliveries wait and then go out in order', async () => {
    const target = await t.receiver();
    const handler = await createHandler(t, { name: 'Softswitch W', event: 'clients.update', task: target.task() });
    const from = flowNow() + 60 * MINUTE;
    const to = from + 60 * MINUTE;
    await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(t.admin).send({ from: iso(from), to: iso(to), reason: 'switch upgrade' }).expect(201);

    state.clock.advance(90 * MINUTE);
    for (let i = 0; i < 4; i++) await postEvent(t, { event: 'clients.update', object_id: 71, data: { id: 71 } });
    // The check on PAUSE_CHECK_CRON (every second here) tells it.
    const paused = await waitForTold(handler.id, 'provisioning.handler.paused', 'the window began');
    assert.deepEqual(paused.envelope.data, { id: handler.id, name: 'Softswitch W', status: 'enabled', cause: 'window', reason: 'switch upgrade', until: paused.envelope.data.until });
    assert.equal(Date.parse(String(paused.envelope.data.until)), Math.floor(to / 1000) * 1000, 'until: the end of the window (the envelope gives whole seconds)');
    await assertLogged(paused);
    assert.equal(target.requests.length, 0, 'held inside the window');
    assert.deepEqual(await deliveries(handler.id), new Array(4).fill(['pending', 0]), 'held, none skipped');
    assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin).expect(200)).body.paused.kind, 'window');
    await checkTwiceAtOnce();
    assert.equal(await stored(handler.id, 'provisioning.handler.paused'), 1, 'the beginning is told once');

    state.clock.advance(60 * MINUTE);
    // Two checks at once, racing the scheduled one.
    await checkTwiceAtOnce();
    const resumed = await waitForTold(handler.id, 'provisioning.handler.resumed', 'the window ended');
    assert.deepEqual(resumed.envelope.data, { id: handler.id, name: 'Softswitch W', status: 'enabled', cause: 'window', reason: 'The maintenance window ended: switch upgrade', until: null });
    await assertLogged(resumed);
    await target.waitFor(4);
    const ids = deliveryIds(target);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'the held deliveries in their order');
    await checkTwiceAtOnce();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([await stored(handler.id, 'provisioning.handler.paused'), await stored(handler.id, 'provisioning.handler.resumed')], [1, 1], 'each boundary stored once');
    assert.deepEqual(told(handler.id).map((call) => call.envelope.event.events_id), ['provisioning.handler.paused', 'provisioning.handler.resumed']);
    assert.ok(paused.deliveryId < resumed.deliveryId, 'in the order they happened');
  });

  it('a timed pause that runs out is told resumed (cause expired), once; the deliveries it held go out in order', async () => {
    const target = await t.receiver();
    const handler = await createHandler(t, { name: 'CRM T', event: 'clients.create', task: target.task() });
    const until = flowNow() + 10 * MINUTE;
    await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(t.admin).send({ until: iso(until), reason: 'night freeze' }).expect(200);
    const paused = await waitForTold(handler.id, 'provisioning.handler.paused', 'the pause, told by the API');
    assert.equal(paused.envelope.data.cause, 'operator');
    for (let i = 0; i < 3; i++) await postEvent(t, { event: 'clients.create', object_id: 72, data: { id: 72 } });
    // A check while it is in force tells nothing: the API told its beginning.
    await checkTwiceAtOnce();

    state.clock.advance(11 * MINUTE);
    await checkTwiceAtOnce();
    const resumed = await waitForTold(handler.id, 'provisioning.handler.resumed', 'the pause ran out');
    assert.deepEqual(resumed.envelope.data, { id: handler.id, name: 'CRM T', status: 'enabled', cause: 'expired', reason: 'The pause ran out: night freeze', until: null });
    await assertLogged(resumed);
    await target.waitFor(3);
    const ids = deliveryIds(target);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    await checkTwiceAtOnce();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([await stored(handler.id, 'provisioning.handler.paused'), await stored(handler.id, 'provisioning.handler.resumed')], [1, 1], 'each boundary stored once');
  });
});

forEachDatabase(
  "pauses told by the clock, when an operator's write comes first",
  // No scheduled check within the test: only the writes and the test's own checks settle the pauses.
  { env: { PAUSE_CHECK_CRON: '0 0 0 1 1 *', DISPATCH_POLL_INTERVAL_MS: '50' } },
  (t) => {
    const { state, flowNow, iso, told, waitForTold, stored } = setUp(t);
    const types = (handlerId: number) => told(handlerId).map((call) => [call.envelope.event.events_id, call.envelope.data.cause]);

    it("a window that ended before any check is told ended by the operator's next write, then that write's own change", async () => {
      const handler = await createHandler(t, { name: 'Gateway E', event: 'dids.block', task: '127.0.0.1:9/never' });
      // In force from its creation: told at once by the write that adds it.
      const window = await t.http
        .post(`/api/v1/handlers/${handler.id}/maintenance-windows`)
        .set(t.admin)
        .send({ from: iso(flowNow() - MINUTE), to: iso(flowNow() + 30 * MINUTE), reason: 'patching' })
        .expect(201);
      await waitForTold(handler.id, 'provisioning.handler.paused', 'the window in force when added');
      state.clock.advance(31 * MINUTE);
      // Over, and no check has run: the pause below must not swallow the end.
      await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(t.admin).send({ reason: 'by hand' }).expect(200);
      await eventually(() => (told(handler.id).length === 3 ? true : undefined), 10_000, 'three events');
      assert.deepEqual(types(handler.id), [
        ['provisioning.handler.paused', 'window'],
        ['provisioning.handler.resumed', 'window'],
        ['provisioning.handler.paused', 'operator'],
      ]);
      const shown = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin).expect(200)).body;
      assert.deepEqual([shown.paused.kind, shown.maintenance_windows], ['manual', []], `window ${window.body.id} is gone`);
      await t.app.get(HandlerPausesService).checkBoundaries();
      await t.http.post(`/api/v1/handlers/${handler.id}/resume`).set(t.admin).expect(200);
      await eventually(() => (told(handler.id).length === 4 ? true : undefined), 10_000, 'the resume');
      assert.deepEqual(types(handler.id).at(-1), ['provisioning.handler.resumed', 'operator']);
      assert.deepEqual([await stored(handler.id, 'provisioning.handler.paused'), await stored(handler.id, 'provisioning.handler.resumed')], [2, 2]);
    });

    it('removing a window in force is told as a resume by the operator; a window that begins inside a manual pause tells nothing', async () => {
      const handler = await createHandler(t, { name: 'Gateway F', event: 'dids.block', task: '127.0.0.1:9/never' });
      const window = await t.http
        .post(`/api/v1/handlers/${handler.id}/maintenance-windows`)
        .set(t.admin)
        .send({ from: iso(flowNow() - MINUTE), to: iso(flowNow() + 30 * MINUTE) })
        .expect(201);
      await waitForTold(handler.id, 'provisioning.handler.paused', 'the window in force when added');
      await t.http.delete(`/api/v1/handlers/${handler.id}/maintenance-windows/${window.body.id}`).set(t.admin).expect(204);
      const resumed = await waitForTold(handler.id, 'provisioning.handler.resumed', 'the removal');
      assert.equal(resumed.envelope.data.cause, 'operator');
      assert.match(String(resumed.envelope.data.reason), new RegExp(`^Maintenance window ${window.body.id} removed by an operator \\(API key \\d+\\)$`));

      await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(t.admin).expect(200);
      await eventually(() => (told(handler.id).length === 3 ? true : undefined), 10_000, 'the pause');
      const from = flowNow() + MINUTE;
      await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(t.admin).send({ from: iso(from), to: iso(from + MINUTE) }).expect(201);
      state.clock.advance(90_000);
      await t.app.get(HandlerPausesService).checkBoundaries();
      state.clock.advance(60_000);
      await t.app.get(HandlerPausesService).checkBoundaries();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(types(handler.id), [
        ['provisioning.handler.paused', 'window'],
        ['provisioning.handler.resumed', 'operator'],
        ['provisioning.handler.paused', 'operator'],
      ], 'the window inside the manual pause changed nothing told');
    });
  },
);
