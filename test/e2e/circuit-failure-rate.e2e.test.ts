import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock.js';
import { createHandler } from '../factories/handler.factory.js';
import { postEvent } from '../factories/event.factory.js';
import { eventually } from '../utils/receiver.js';
import { deliveryRows } from '../utils/delivery-rows.js';
import { forEachDatabase } from '../utils/suite.js';
import { takeOverClock } from '../utils/test-clock.js';

/**
 * The circuit breaker's failure-rate rule, end to end on each database: a target that fails
 * every other call (never twice in a row, so the rule in a row never trips) opens the circuit
 * by its rate; the API, the gauge and the operational event say so and why; its deliveries wait
 * without spending attempts; after the cool-down one probe closes it and every delivery that
 * waited goes out once.
 */
forEachDatabase(
  'circuit breaker: the failure-rate rule',
  {
    env: {
      CIRCUIT_FAILURE_THRESHOLD: '3',
      CIRCUIT_FAILURE_RATE: '0.5',
      CIRCUIT_RATE_WINDOW: '60s',
      CIRCUIT_RATE_MIN_CALLS: '6',
      CIRCUIT_COOLDOWN: '30s',
      RETRY_SCHEDULE: '100ms',
      DISPATCH_POLL_INTERVAL_MS: '50',
    },
  },
  (t) => {
    it('a target failing every other call opens the circuit by its rate, waits out the cool-down without spending attempts, and closes on the probe', async () => {
      const clock = takeOverClock(t.app.get(Clock));
      const sql = (text: string, params: unknown[] = []) => t.app.get(DataSource).query(text, params);
      const pager = await t.receiver();
      await createHandler(t, { name: 'pager', event: 'provisioning.handler.*', task: pager.task('/ops') });
      let healthy = false;
      // Fails the 1st, 3rd, 5th… call it gets, whichever delivery it is: never two failures in a row.
      const target = await t.receiver((_request, index) => ({ status: healthy || index % 2 === 1 ? 200 : 503 }));
      // One call at a time, so the calls alternate as the target answers them.
      const handler = await createHandler(t, { name: 'Half-broken CRM', event: 'clients.update', task: target.task(), max_concurrency: 1, retry_limit: 30 });
      const view = async () => (await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin).expect(200)).body;
      const gauge = async () => {
        const page = (await t.http.get('/metrics').set(t.admin).expect(200)).text;
        const line = page.split('\n').find((l) => l.startsWith(`provisioning_handler_circuit_state{handler_id="${handler.id}",`));
        return Number(line?.split(' ').at(-1));
      };
      const deliveries = async () => (await deliveryRows(sql, { handlerId: handler.id })).map(({ id, status, attempts }) => ({ id, status, attempts }));
      const pagerCalls = (type: string) =>
        pager.requests.map((r) => JSON.parse(r.body)).filter((body) => body.event.events_id === type && body.event.object_id === handler.id);

      for (let object = 1; object <= 6; object++) await postEvent(t, { event: 'clients.update', object_id: object, data: { id: object } });
      const open = await eventually(async () => {
        const shown = await view();
        return shown.circuit.state === 'open' ? shown : undefined;
      }, 45_000, 'the circuit opened');
      assert.match(open.circuit.reason, /^at least 50% of 6\+ calls failed within 60s; the last: receiver answered 503$/);
      assert.ok(Date.parse(open.circuit.retry_at) - Date.parse(open.circuit.since) === 30_000, 'the first cool-down');
      assert.equal(await gauge(), 2, 'the gauge shows it open');
      const [opened] = await eventually(() => {
        const found = pagerCalls('provisioning.handler.circuit_opened');
        return found.length > 0 ? found : undefined;
      }, 20_000, 'circuit_opened emitted');
      assert.deepEqual([opened.data.cause, opened.data.reason], ['failures', open.circuit.reason], 'the event carries the reason');

      // The call that opened it may still have had a successor claimed: wait until nothing of the handler is in progress.
      await eventually(async () => (target.inFlight.now === 0 && (await deliveries()).every((d) => d.status !== 'in_progress') ? true : undefined), 20_000, 'settled');
      const callsWhenOpened = target.requests.length;
      const [row] = await sql('SELECT circuit_failures, circuit_window_calls, circuit_window_failures FROM handlers WHERE id = ?', [handler.id]);
      assert.ok(Number(row.circuit_failures) < 3, 'never three failures in a row: the rule in a row did not trip');
      const [calls, failures] = [Number(row.circuit_window_calls), Number(row.circuit_window_failures)];
      // Every call before the opening counted, successes too (one that ended after it may not have: the window counts only while closed).
      assert.ok(calls >= 6 && calls >= callsWhenOpened - 1 && calls <= callsWhenOpened, `window ${calls} calls, ${callsWhenOpened} made`);
      assert.ok(failures * 2 >= calls && failures < calls, `window ${failures} failed of ${calls}`);
      const before = await deliveries();
      for (let object = 7; object <= 9; object++) await postEvent(t, { event: 'clients.update', object_id: object, data: { id: object } });
      // Retries come due every 100 ms and the worker polls every 50 ms: with the circuit closed, calls would go out within this.
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal(target.requests.length, callsWhenOpened, 'no call while open');
      const waiting = await deliveries();
      assert.deepEqual(waiting.slice(0, before.length), before, 'no attempt spent while open');
      assert.deepEqual(waiting.slice(before.length).map((d) => [d.status, d.attempts]), [['pending', 0], ['pending', 0], ['pending', 0]], 'the new deliveries wait');
      const unfinished = waiting.filter((d) => d.status === 'pending');

      healthy = true;
      clock.advance(31_000);
      await eventually(async () => ((await deliveries()).every((d) => d.status === 'succeeded') ? true : undefined), 45_000, 'every delivery succeeded');
      const closed = await eventually(async () => {
        const shown = await view();
        return shown.circuit.state === 'closed' ? shown : undefined;
      }, 20_000, 'the circuit closed');
      assert.equal(closed.circuit.reason, 'the probe call succeeded');
      assert.equal(await gauge(), 0, 'the gauge shows it closed');
      await eventually(() => (pagerCalls('provisioning.handler.circuit_closed').length > 0 ? true : undefined), 20_000, 'circuit_closed emitted');
      assert.equal(target.requests.length, callsWhenOpened + unfinished.length, 'one call per waiting delivery, the probe among them');
      const after = new Map((await deliveries()).map((d) => [d.id, d.attempts]));
      for (const d of unfinished) assert.equal(after.get(d.id), d.attempts + 1, `delivery ${d.id}: one attempt more`);
      const [reset] = await sql('SELECT circuit_failures, circuit_window_failures FROM handlers WHERE id = ?', [handler.id]);
      assert.deepEqual([Number(reset.circuit_failures), Number(reset.circuit_window_failures)], [0, 0], 'closing began a fresh window, of successes since');
    });
  },
);
