import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { createHandler, type CreatedHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import { eventually, type Received, TestReceiver } from '../utils/receiver.js';
import { IngestService } from '../../src/events/ingest.service.js';

/** An operational event as a receiver got it. */
interface OperationalCall {
  request: Received;
  deliveryId: number;
  envelope: { event: { dt: string; events_id: string; object_id: number }; data: Record<string, unknown> };
}

forEachDatabase(
  'operational events',
  // The breaker off: ten failures 100 ms apart would open the circuit (its events are the next
  // suite's) before AUTO_DISABLE_AFTER, and its cool-down would hold the failing deliveries.
  { env: { RETRY_SCHEDULE: '100ms', AUTO_DISABLE_AFTER: '1s', DISPATCH_POLL_INTERVAL_MS: '50', CIRCUIT_FAILURE_THRESHOLD: '0' } },
  (t) => {
    let ops: TestReceiver;
    let opsHandler: CreatedHandler;
    let everything: TestReceiver;
    let objectId = 500;

    before(async () => {
      ops = await t.receiver();
      opsHandler = await createHandler(t, { name: 'pager', event: 'provisioning.*', task: ops.task('/ops') });
      // A handler of every business event: operational events are not among them.
      everything = await t.receiver();
      await createHandler(t, { name: 'every business event', event: '*', task: everything.task('/all'), priority: 100 });
    });

    /** The operational calls the pager receiver got so far, each checked against the pager's signing secret. */
    const received = (): OperationalCall[] =>
      ops.requests.map((request) => {
        assert.doesNotThrow(() => new Webhook(opsHandler.signing_secret).verify(request.body, request.headers as Record<string, string>), 'signed with the pager secret');
        return { request, deliveryId: Number(String(request.headers['webhook-id']).replace('msg_d', '')), envelope: JSON.parse(request.body) };
      });
    const waitForCall = (type: string, objectId: number, what: string): Promise<OperationalCall> =>
      eventually(() => received().find((call) => call.envelope.event.events_id === type && call.envelope.event.object_id === objectId), 10_000, what);

    /** The pager's execution log row of the call, and the row's detail agrees with what was received. */
    const assertLogged = async (call: OperationalCall) => {
      const type = call.envelope.event.events_id;
      const row = await eventually(async () => {
        const items = (await t.http.get(`/api/v1/execution-logs?handler_id=${opsHandler.id}&event=${type}&limit=500`).set(t.admin)).body.items;
        return items.find((item: { delivery_id: number; status: string }) => item.delivery_id === call.deliveryId && item.status === 'success');
      }, 10_000, `log row of delivery ${call.deliveryId}`);
      assert.equal(row.object_id, call.envelope.event.object_id);
      assert.equal(row.trigger, 'auto');
      const detail = (await t.http.get(`/api/v1/execution-logs/${row.id}`).set(t.admin).expect(200)).body;
      assert.equal(detail.request_payload, call.request.body);
      return row;
    };

    it('lists the operational events in the catalog, with exact data schemas and samples', async () => {
      const catalog = (await t.http.get('/api/v1/event-types').set(t.admin).expect(200)).body;
      const group = catalog.groups.at(-1);
      assert.equal(group.name, 'Provisioning');
      assert.deepEqual(group.events.map((e: { id: string }) => e.id), [
        'provisioning.handler.circuit_opened',
        'provisioning.handler.circuit_closed',
        'provisioning.handler.paused',
        'provisioning.handler.resumed',
        'provisioning.handler.disabled',
        'provisioning.delivery.exhausted',
      ]);
      const one = (await t.http.get('/api/v1/event-types/provisioning.delivery.exhausted').set(t.admin).expect(200)).body;
      assert.equal(one.entity, 'delivery');
      assert.equal(one.data_schema.additionalProperties, false);
      assert.deepEqual([...one.data_schema.required].sort(), Object.keys(one.sample.data).sort());
      assert.deepEqual(one.data_schema.properties.cause.enum, ['retries', 'gone', 'manual']);
    });

    it("a handler's test send sends the sample of its first operational event", async () => {
      const r = await t.receiver();
      const handler = await createHandler(t, { name: 'exhausted only', event: 'provisioning.delivery.*', task: r.task() });
      const sent = await t.http.post(`/api/v1/handlers/${handler.id}/test`).set(t.admin).send({}).expect(200);
      assert.equal(sent.body.status, 'success');
      assert.equal(sent.body.event, 'provisioning.delivery.exhausted');
      const [request] = await r.waitFor(1);
      assert.doesNotThrow(() => new Webhook(handler.signing_secret).verify(request!.body, request!.headers as Record<string, string>));
      assert.equal(JSON.parse(request!.body).event.events_id, 'provisioning.delivery.exhausted');
      await t.http.delete(`/api/v1/handlers/${handler.id}`).set(t.admin).expect(204);
    });

    it("an operator's disable (toggle, and PATCH status) reaches the subscribed receiver, signed, and is in its execution logs", async () => {
      const target = await createHandler(t, { name: 'Softswitch B', event: 'dids.block', task: '127.0.0.1:9/never' });
      const toggled = await t.http.post(`/api/v1/handlers/${target.id}/toggle`).set(t.admin).expect(200);
      assert.equal(toggled.body.status, 'disabled');
      const call = await waitForCall('provisioning.handler.disabled', target.id, 'the disable of the toggled handler');
      assert.deepEqual(call.envelope.data, {
        id: target.id,
        name: 'Softswitch B',
        status: 'disabled',
        cause: 'operator',
        reason: call.envelope.data.reason,
        until: null,
      });
      assert.match(String(call.envelope.data.reason), /^Disabled by an operator \(API key \d+\)$/);
      assert.match(call.envelope.event.dt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      assert.equal(call.request.headers['content-type'], 'application/json');
      // Not a secret of the disabled handler in sight.
      assert.ok(!call.request.body.includes(target.signing_secret));
      assert.ok(!call.request.body.includes('127.0.0.1:9'));
      await assertLogged(call);
      const row = await t.app.get(DataSource).query("SELECT api_key_id FROM events WHERE events_id = 'provisioning.handler.disabled' AND object_id = ?", [target.id]);
      assert.deepEqual(row.map((r: { api_key_id: unknown }) => r.api_key_id), [null], 'stored once, by the service itself');

      // Enabling it again says nothing; a PATCH to disabled does, as the operator's disable it is.
      await t.http.post(`/api/v1/handlers/${target.id}/toggle`).set(t.admin).expect(200);
      await t.http.patch(`/api/v1/handlers/${target.id}`).set(t.admin).send({ status: 'disabled' }).expect(200);
      await eventually(() => {
        const calls = received().filter((c) => c.envelope.event.events_id === 'provisioning.handler.disabled' && c.envelope.event.object_id === target.id);
        return calls.length === 2 ? calls : undefined;
      }, 10_000, 'the second disable');
      // A PATCH that leaves it disabled is no new disable.
      await t.http.patch(`/api/v1/handlers/${target.id}`).set(t.admin).send({ name: 'Softswitch B2' }).expect(200);
      await postEvent(t, { event: 'clients.update', object_id: ++objectId, data: { id: objectId } });
      await everything.waitFor(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const disables = received().filter((c) => c.envelope.event.events_id === 'provisioning.handler.disabled' && c.envelope.event.object_id === target.id);
      assert.equal(disables.length, 2);
    });

    it('a 410 Gone answer: delivery.exhausted and handler.disabled, both with cause gone, reach the receiver and its logs', async () => {
      const gone = await t.receiver(() => ({ status: 410, body: '{"error":"gone"}' }));
      const handler = await createHandler(t, { name: 'Gateway C', event: 'dids.block', task: gone.task() });
      const accepted = await postEvent(t, { event: 'dids.block', object_id: ++objectId });
      const state = await waitUntilSettled(t, accepted.id);
      const delivery = state.deliveries.find((d: { handler_id: number }) => d.handler_id === handler.id);
      assert.equal(delivery.status, 'failed');

      const exhausted = await waitForCall('provisioning.delivery.exhausted', delivery.id, 'the exhausted delivery');
      assert.deepEqual(exhausted.envelope.data, {
        id: delivery.id,
        event_id: accepted.id,
        event: 'dids.block',
        object_id: objectId,
        handler_id: handler.id,
        handler_name: 'Gateway C',
        attempts: 1,
        last_response_code: 410,
        last_error: 'receiver answered 410',
        cause: 'gone',
      });
      const disabled = await waitForCall('provisioning.handler.disabled', handler.id, 'the disable after 410');
      assert.equal(disabled.envelope.data.cause, 'gone');
      assert.equal(disabled.envelope.data.status, 'disabled');
      assert.match(String(disabled.envelope.data.reason), /410 Gone/);
      const shown = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin).expect(200)).body;
      assert.equal(disabled.envelope.data.reason, shown.disabled_reason);
      await assertLogged(exhausted);
      await assertLogged(disabled);
    });

    it('retries spent: delivery.exhausted with cause retries and the last answer', async () => {
      const failing = await t.receiver(() => ({ status: 503, body: 'down' }));
      const handler = await createHandler(t, { name: 'CRM D', event: 'clients.delete', task: failing.task(), retry_limit: 1 });
      const accepted = await postEvent(t, { event: 'clients.delete', object_id: ++objectId });
      const state = await waitUntilSettled(t, accepted.id);
      const delivery = state.deliveries.find((d: { handler_id: number }) => d.handler_id === handler.id);
      assert.equal(delivery.status, 'failed');
      assert.equal(delivery.attempts, 2);
      const exhausted = await waitForCall('provisioning.delivery.exhausted', delivery.id, 'the exhausted delivery');
      assert.deepEqual(exhausted.envelope.data, {
        id: delivery.id,
        event_id: accepted.id,
        event: 'clients.delete',
        object_id: objectId,
        handler_id: handler.id,
        handler_name: 'CRM D',
        attempts: 2,
        last_response_code: 503,
        last_error: 'receiver answered 503',
        cause: 'retries',
      });
      await assertLogged(exhausted);

      // A manual retry that fails again is exhausted again, by the manual attempt.
      await t.http.post(`/api/v1/deliveries/${delivery.id}/retry`).set(t.admin).expect(200);
      const manual = await eventually(
        () => received().find((c) => c.envelope.event.events_id === 'provisioning.delivery.exhausted' && c.envelope.event.object_id === delivery.id && c.envelope.data.cause === 'manual'),
        10_000,
        'the exhausted manual retry',
      );
      assert.equal(manual.envelope.data.attempts, 3);
    });

    it('failing longer than AUTO_DISABLE_AFTER: handler.disabled with cause auto_disable', async () => {
      const failing = await t.receiver(() => ({ status: 500 }));
      const handler = await createHandler(t, { name: 'Flaky E', event: 'clients.archive', task: failing.task(), retry_limit: 30 });
      await postEvent(t, { event: 'clients.archive', object_id: ++objectId });
      const disabled = await waitForCall('provisioning.handler.disabled', handler.id, 'the automatic disable');
      assert.equal(disabled.envelope.data.cause, 'auto_disable');
      assert.match(String(disabled.envelope.data.reason), /longer than AUTO_DISABLE_AFTER/);
      assert.equal(disabled.envelope.data.name, 'Flaky E');
      await assertLogged(disabled);
    });

    it('refuses operational events from outside (403 EVENT_RESERVED), whatever the key, and stores nothing', async () => {
      const db = t.app.get(DataSource);
      const count = async () => Number((await db.query('SELECT COUNT(*) AS n FROM events'))[0].n);
      const before = await count();
      const events = await keyHeaders(t, 'events');
      const forged = { event: 'provisioning.handler.paused', object_id: opsHandler.id, data: { id: opsHandler.id, name: 'pager', status: 'enabled', cause: 'operator', reason: null, until: null } };
      for (const headers of [events, t.admin]) {
        const response = await t.http.post('/api/v1/events').set(headers).send(forged);
        assert.equal(response.status, 403);
        assert.equal(response.body.code, 'EVENT_RESERVED');
        assert.deepEqual(response.body.details.map((d: { field: string }) => d.field), ['event']);
      }
      const batch = await t.http
        .post('/api/v1/events/batch')
        .set(events)
        .send({ events: [forged, { event: 'provisioning.delivery.exhausted', object_id: 1 }, { event: 'clients.update', object_id: ++objectId, data: { id: objectId } }] })
        .expect(200);
      assert.deepEqual(batch.body.items.map((item: { status: string; error?: { code: string } }) => item.error?.code ?? item.status), ['EVENT_RESERVED', 'EVENT_RESERVED', 'accepted']);
      const decide = await t.http.post('/api/v1/events/decide').set(events).send(forged);
      assert.equal(decide.status, 403);
      assert.equal(decide.body.code, 'EVENT_RESERVED');
      assert.equal(await count(), before + 1, 'only the business event of the batch was stored');
    });

    it('a handler of * gets the business events only, never an operational one', async () => {
      await eventually(() => (everything.requests.length > 0 ? true : undefined));
      const types = new Set(everything.requests.map((request) => JSON.parse(request.body).event.events_id as string));
      assert.ok(types.has('dids.block'), [...types].join(', '));
      assert.ok(![...types].some((type) => type.startsWith('provisioning.')), [...types].join(', '));
    });

    it('no loops: a failed delivery of an operational event emits nothing, counted as suppressed', async () => {
      const metric = async (type: string, cause: string, result: string) => {
        const page = (await t.http.get('/metrics').set(t.admin).expect(200)).text;
        const line = page.split('\n').find((l) => l.startsWith(`provisioning_operational_events_total{type="${type}",cause="${cause}",result="${result}"} `));
        return Number(line?.split(' ')[1]);
      };
      const before = {
        exhausted: await metric('provisioning.delivery.exhausted', 'gone', 'suppressed'),
        disabled: await metric('provisioning.handler.disabled', 'gone', 'suppressed'),
      };
      // A second alert receiver that is gone: its delivery of an operational event fails for
      // good and disables it, which would be two more operational events about it.
      const goneAlerts = await t.receiver(() => ({ status: 410 }));
      const alerts = await createHandler(t, { name: 'gone alerts', event: 'provisioning.handler.*', task: goneAlerts.task() });
      const subject = await createHandler(t, { name: 'Subject F', event: 'dids.hold', task: '127.0.0.1:9/never' });
      await t.http.post(`/api/v1/handlers/${subject.id}/toggle`).set(t.admin).expect(200);
      await waitForCall('provisioning.handler.disabled', subject.id, 'the disable of the subject');
      await goneAlerts.waitFor(1);
      await eventually(async () => ((await t.http.get(`/api/v1/handlers/${alerts.id}`).set(t.admin)).body.status === 'disabled' ? true : undefined), 10_000, 'the gone alert handler disabled');
      await eventually(async () => ((await metric('provisioning.handler.disabled', 'gone', 'suppressed')) === before.disabled + 1 ? true : undefined), 10_000, 'suppressed disable counted');
      assert.equal(await metric('provisioning.delivery.exhausted', 'gone', 'suppressed'), before.exhausted + 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(goneAlerts.requests.length, 1, 'the gone receiver was called once');
      const db = t.app.get(DataSource);
      const about = await db.query(
        "SELECT events_id, object_id FROM events WHERE (events_id = 'provisioning.handler.disabled' AND object_id = ?) OR (events_id = 'provisioning.delivery.exhausted' AND data LIKE ?)",
        [alerts.id, `%"handler_id":${alerts.id},%`],
      );
      assert.deepEqual(about, [], 'no operational event about the alert handler or its delivery');
      assert.equal(received().filter((c) => c.envelope.data.handler_id === alerts.id || (c.envelope.event.events_id === 'provisioning.handler.disabled' && c.envelope.event.object_id === alerts.id)).length, 0);
    });

    it("an operator's pause and resume reach the receiver once each, with cause operator; a pause or resume that changes nothing says nothing", async () => {
      const target = await createHandler(t, { name: 'Softswitch P', event: 'dids.hold', task: '127.0.0.1:9/never' });
      const until = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      await t.http.post(`/api/v1/handlers/${target.id}/pause`).set(t.admin).send({ until, reason: 'switch upgrade' }).expect(200);
      const paused = await waitForCall('provisioning.handler.paused', target.id, 'the pause');
      assert.deepEqual(paused.envelope.data, { id: target.id, name: 'Softswitch P', status: 'enabled', cause: 'operator', reason: 'switch upgrade', until: paused.envelope.data.until });
      assert.equal(Date.parse(String(paused.envelope.data.until)), Date.parse(until));
      await assertLogged(paused);
      // Paused already: a second pause changes its end, and is no new pause.
      await t.http.post(`/api/v1/handlers/${target.id}/pause`).set(t.admin).expect(200);
      await t.http.post(`/api/v1/handlers/${target.id}/resume`).set(t.admin).expect(200);
      const resumed = await waitForCall('provisioning.handler.resumed', target.id, 'the resume');
      assert.deepEqual([resumed.envelope.data.cause, resumed.envelope.data.status, resumed.envelope.data.until], ['operator', 'enabled', null]);
      assert.match(String(resumed.envelope.data.reason), /^Resumed by an operator \(API key \d+\)$/);
      // Not paused any more: a second resume is no new resume.
      await t.http.post(`/api/v1/handlers/${target.id}/resume`).set(t.admin).expect(200);
      await postEvent(t, { event: 'clients.update', object_id: ++objectId, data: { id: objectId } });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const about = (type: string) => received().filter((c) => c.envelope.event.events_id === type && c.envelope.event.object_id === target.id).length;
      assert.deepEqual([about('provisioning.handler.paused'), about('provisioning.handler.resumed')], [1, 1]);
    });

    it('a failure to emit is logged and counted, and the change it was about stands', async () => {
      const ingest = t.app.get(IngestService);
      const original = ingest.acceptOperational;
      const failedCount = async () => {
        const page = (await t.http.get('/metrics').set(t.admin).expect(200)).text;
        const line = page.split('\n').find((l) => l.startsWith('provisioning_operational_events_total{type="provisioning.handler.disabled",cause="operator",result="failed"} '));
        return Number(line?.split(' ')[1]);
      };
      const before = await failedCount();
      ingest.acceptOperational = () => Promise.reject(new Error('the database is gone'));
      try {
        const subject = await createHandler(t, { name: 'Subject G', event: 'dids.hold', task: '127.0.0.1:9/never' });
        const toggled = await t.http.post(`/api/v1/handlers/${subject.id}/toggle`).set(t.admin);
        assert.equal(toggled.status, 200);
        assert.equal(toggled.body.status, 'disabled');
        await eventually(async () => ((await failedCount()) === before + 1 ? true : undefined), 5_000, 'the failed emit counted');
        assert.equal((await t.http.get(`/api/v1/handlers/${subject.id}`).set(t.admin).expect(200)).body.status, 'disabled');
      } finally {
        ingest.acceptOperational = original;
      }
    });
  },
);

forEachDatabase(
  'operational events: the circuit breaker',
  { env: { RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50', CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_COOLDOWN: '300ms' } },
  (t) => {
    it('a circuit that opens and closes again is told as circuit_opened (cause failures) and circuit_closed (cause probe); one opened by failing operational deliveries is not', async () => {
      const metric = async (type: string, cause: string, result: string) => {
        const page = (await t.http.get('/metrics').set(t.admin).expect(200)).text;
        const line = page.split('\n').find((l) => l.startsWith(`provisioning_operational_events_total{type="${type}",cause="${cause}",result="${result}"} `));
        return Number(line?.split(' ')[1] ?? 0);
      };
      const pager = await t.receiver();
      await createHandler(t, { name: 'pager', event: 'provisioning.handler.*', task: pager.task('/ops') });
      // A second alert receiver that always fails: its circuit opens on operational deliveries only.
      const downAlerts = await t.receiver(() => ({ status: 500 }));
      const alerts = await createHandler(t, { name: 'down alerts', event: 'provisioning.handler.*', task: downAlerts.task(), retry_limit: 30 });
      let healthy = false;
      const target = await t.receiver(() => ({ status: healthy ? 200 : 503 }));
      const handler = await createHandler(t, { name: 'Flaky CRM', event: 'clients.update', task: target.task(), retry_limit: 30 });
      const suppressedBefore = await metric('provisioning.handler.circuit_opened', 'failures', 'suppressed');

      await postEvent(t, { event: 'clients.update', object_id: 7, data: { id: 7 } });
      const calls = (type: string, id: number) => pager.requests.map((r) => JSON.parse(r.body)).filter((body) => body.event.events_id === type && body.event.object_id === id);
      const [opened] = await eventually(() => {
        const found = calls('provisioning.handler.circuit_opened', handler.id);
        return found.length > 0 ? found : undefined;
      }, 10_000, 'the circuit opened');
      assert.deepEqual(
        [opened.data.id, opened.data.name, opened.data.status, opened.data.cause],
        [handler.id, 'Flaky CRM', 'enabled', 'failures'],
      );
      assert.equal(typeof opened.data.reason, 'string');
      assert.ok(Date.parse(opened.data.until) > Date.parse(opened.event.dt) - 1000, 'until: when the cool-down ends');

      healthy = true;
      const [closed] = await eventually(() => {
        const found = calls('provisioning.handler.circuit_closed', handler.id);
        return found.length > 0 ? found : undefined;
      }, 15_000, 'the circuit closed');
      assert.deepEqual([closed.data.id, closed.data.cause, closed.data.until], [handler.id, 'probe', null]);

      // The down alert handler's circuit opened on its deliveries of those events: nothing about it was emitted.
      await eventually(async () => ((await metric('provisioning.handler.circuit_opened', 'failures', 'suppressed')) > suppressedBefore ? true : undefined), 15_000, 'the suppressed circuit_opened counted');
      const about = await t.app.get(DataSource).query("SELECT id FROM events WHERE events_id LIKE 'provisioning.handler.circuit%' AND object_id = ?", [alerts.id]);
      assert.deepEqual(about, [], 'no circuit event about the alert handler');
    });
  },
);
