import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { forEachDatabase } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { postHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { bearer, countDeliveries, countRows } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { LOG_COLUMNS, logValues } from '../../src/execution-logs/execution-log.js';
import { RetentionService } from '../../src/retention/retention.service.js';
import { DataSource } from 'typeorm';

forEachDatabase('dispatch to real receivers', { env: { RETRY_SCHEDULE: '100ms,100ms,100ms', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let admin: Record<string, string>;
  let events: Record<string, string>;
  /** Every secret a handler ever had, to verify every request any receiver got. */
  const secretsByPath = new Map<string, string[]>();
  let objectId = 1000;

  before(async () => {
    admin = bearer(t.adminKey);
    events = await keyHeaders(t, 'events');
  });

  const handler = async (r: TestReceiver, body: Record<string, unknown>) => {
    const path = `/h${Math.random().toString(36).slice(2, 8)}`;
    const created = await postHandler(t, { name: `handler ${path}`, event: 'clients.update', type: 'http', task: r.task(path), ...body }, admin);
    secretsByPath.set(`${r.port}${path}`, [created.signing_secret]);
    return { ...created, path };
  };
  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) => postEvent(t, body, { ...events, ...headers });
  const eventState = async (id: number) => (await t.http.get(`/api/v1/events/${id}`).set(admin)).body;
  const settled = (id: number) => waitUntilSettled(t, id, { headers: admin });
  const logsOf = async (query: string) => (await t.http.get(`/api/v1/execution-logs?${query}`).set(admin)).body;
  const nextObject = () => ++objectId;

  it('a retry of a delivery still waiting answers 409 DELIVERY_NOT_RETRYABLE and changes nothing', async () => {
    const r = await t.receiver();
    const h = await handler(r, { event: 'dids.stock' });
    const paused = await t.http.post(`/api/v1/handlers/${h.id}/pause`).set(admin).send({ reason: 'held for the test' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const accepted = await post({ event: 'dids.stock', object_id: nextObject(), data: {} });
    const before = (await eventState(accepted.id)).deliveries.find((d: { handler_id: number }) => d.handler_id === h.id);
    assert.equal(before.status, 'pending');
    const refused = await t.http.post(`/api/v1/deliveries/${before.id}/retry`).set(admin);
    assert.deepEqual([refused.status, refused.body.code], [409, 'DELIVERY_NOT_RETRYABLE']);
    assert.match(refused.body.message, /is pending; only failed or skipped deliveries can be retried/);
    const after = (await eventState(accepted.id)).deliveries.find((d: { handler_id: number }) => d.handler_id === h.id);
    assert.deepEqual(after, before, 'nothing changed');
    assert.equal(r.requests.length, 0, 'nothing sent while paused');
    await t.http.post(`/api/v1/handlers/${h.id}/resume`).set(admin).expect(200);
    await r.waitFor(1);
  });

  it('sends exactly the envelope as JSON, with custom headers, once per handler', async () => {
    const r = await t.receiver();
    const h = await handler(r, { headers: { 'X-Tenant': 'north' } });
    const id = nextObject();
    const data = { id, name: 'Acme', balance: '10.50', tags: ['vip'], custom_fields: { crm: 'A-1' }, extra_field: { kept: true } };
    const accepted = await post({ event: 'clients.update', object_id: id, dt: '2026-11-22T10:15:30+02:00', data });
    assert.deepEqual(accepted.deliveries.map((d) => d.handler_id), [h.id]);
    const [request] = await r.waitFor(1);
    assert.equal(request!.method, 'POST');
    assert.equal(request!.path, h.path);
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['x-tenant'], 'north');
    assert.deepEqual(JSON.parse(request!.body), {
      event: { dt: '2026-11-22T10:15:30+02:00', events_id: 'clients.update', object_id: id },
      data,
    });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'succeeded');
    assert.equal(state.deliveries[0].attempts, 1);
  });

  it('calls handlers of priorities 3, 1, 2 in the order 1, 2, 3, each after the previous one ended', async () => {
    const order: string[] = [];
    const r = await t.receiver((request) => {
      order.push(request.path);
      return { status: 200, delayMs: 150 };
    });
    const h3 = await handler(r, { priority: 3, event: 'clients.balance_zero' });
    const h1 = await handler(r, { priority: 1, event: 'clients.balance_zero' });
    const h2 = await handler(r, { priority: 2, event: 'clients.balance_zero' });
    const accepted = await post({ event: 'clients.balance_zero', object_id: nextObject() });
    assert.deepEqual(accepted.deliveries.map((d) => d.handler_id), [h1.id, h2.id, h3.id]);
    const requests = await r.waitFor(3);
    assert.deepEqual(order, [h1.path, h2.path, h3.path]);
    for (let i = 1; i < 3; i++) {
      assert.ok(requests[i]!.at - requests[i - 1]!.at >= 140, `handler ${i + 1} started before handler ${i} answered`);
    }
  });

  it('retries a receiver that fails twice: 3 attempts, one webhook-id, logs 2 fail + 1 success', async () => {
    const r = await t.receiver((_request, index) => ({ status: index < 2 ? 500 : 200 }));
    const h = await handler(r, { event: 'clients.custom_fields.update' });
    const accepted = await post({ event: 'clients.custom_fields.update', object_id: nextObject(), data: {} });
    const requests = await r.waitFor(3);
    assert.equal(new Set(requests.map((q) => q.headers['webhook-id'])).size, 1);
    assert.equal(requests[0]!.body, requests[2]!.body);
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'succeeded');
    assert.equal(state.deliveries[0].attempts, 3);
    const logs = await logsOf(`event_id=${accepted.id}`);
    assert.deepEqual(
      logs.items.map((l: { status: string; attempt: number }) => `${l.attempt}:${l.status}`),
      ['3:success', '2:fail', '1:fail'],
    );
    assert.equal(logs.items[2].response_code, 500);
    assert.equal(logs.items[0].handler_id, h.id);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(r.requests.length, 3, 'no call after the success');
  });

  it('gives up after the retry limit, then retries by hand, alone and in bulk', async () => {
    let healthy = false;
    const r = await t.receiver(() => ({ status: healthy ? 200 : 502 }));
    const h = await handler(r, { retry_limit: 1, event: 'clients.subscriptions.renew' });
    const first = await post({ event: 'clients.subscriptions.renew', object_id: nextObject() });
    const second = await post({ event: 'clients.subscriptions.renew', object_id: nextObject() });
    const third = await post({ event: 'clients.subscriptions.renew', object_id: nextObject() });
    for (const id of [first.id, second.id, third.id]) {
      const state = await settled(id);
      assert.equal(state.deliveries[0].status, 'failed');
      assert.equal(state.deliveries[0].attempts, 2);
      assert.equal(state.deliveries[0].last_response_code, 502);
    }
    assert.equal(r.requests.length, 6);
    healthy = true;

    const deliveryId = (await eventState(first.id)).deliveries[0].id;
    const retried = await t.http.post(`/api/v1/deliveries/${deliveryId}/retry`).set(admin);
    assert.equal(retried.status, 200);
    const state = await settled(first.id);
    assert.equal(state.deliveries[0].status, 'succeeded');
    assert.equal(state.deliveries[0].attempts, 3);
    const manual = await logsOf(`event_id=${first.id}`);
    assert.equal(manual.items[0].trigger, 'manual');
    assert.equal(manual.items[0].attempt, 3);

    // It succeeded and left the queue: a retry finds nothing to send again.
    const again = await t.http.post(`/api/v1/deliveries/${deliveryId}/retry`).set(admin);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'DELIVERY_NOT_FOUND');
    assert.equal((await t.http.post('/api/v1/deliveries/99999999/retry').set(admin)).body.code, 'DELIVERY_NOT_FOUND');

    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date().toISOString();
    const bulk = await t.http.post(`/api/v1/handlers/${h.id}/deliveries/retry`).set(admin).send({ from, to });
    assert.equal(bulk.status, 200);
    assert.equal(bulk.body.queued, 2);
    for (const id of [second.id, third.id]) assert.equal((await settled(id)).deliveries[0].status, 'succeeded');
    const badRange = await t.http.post(`/api/v1/handlers/${h.id}/deliveries/retry`).set(admin).send({ from: to, to: from });
    assert.equal(badRange.status, 400);
    const noRange = await t.http.post(`/api/v1/handlers/${h.id}/deliveries/retry`).set(admin).send({ from: 'yesterday' });
    assert.equal(noRange.status, 400);
    assert.equal(noRange.body.code, 'VALIDATION_FAILED');
  });

  it('a 410 disables the handler with the reason shown, and later events skip it', async () => {
    const r = await t.receiver(() => ({ status: 410, body: '{"error":"gone"}' }));
    const h = await handler(r, { event: 'dids.block' });
    const accepted = await post({ event: 'dids.block', object_id: nextObject() });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'failed');
    assert.equal(state.deliveries[0].attempts, 1, 'a 410 is not retried');
    const shown = await eventually(async () => {
      const body = (await t.http.get(`/api/v1/handlers/${h.id}`).set(admin)).body;
      return body.status === 'disabled' ? body : undefined;
    });
    assert.match(shown.disabled_reason, /410/);
    const later = await post({ event: 'dids.block', object_id: nextObject() });
    assert.deepEqual(later.deliveries, []);
    assert.equal(r.requests.length, 1);
    // Enabling it again clears the reason.
    const enabled = await t.http.post(`/api/v1/handlers/${h.id}/toggle`).set(admin);
    assert.equal(enabled.body.status, 'enabled');
    assert.equal(enabled.body.disabled_reason, null);
    await t.http.patch(`/api/v1/handlers/${h.id}`).set(admin).send({ status: 'archived' }).expect(200);
  });

  for (const status of [503, 429]) {
    it(`honours Retry-After on a ${status}`, async () => {
      const r = await t.receiver((_request, index) => (index === 0 ? { status, headers: { 'retry-after': '2' } } : { status: 200 }));
      await handler(r, { event: 'dids.hold' });
      const accepted = await post({ event: 'dids.hold', object_id: nextObject() });
      const requests = await r.waitFor(2, 10_000);
      const gap = requests[1]!.at - requests[0]!.at;
      assert.ok(gap >= 1900, `second attempt came ${gap} ms after the first, before Retry-After's 2 s`);
      assert.equal((await settled(accepted.id)).deliveries[0].status, 'succeeded');
      await t.http.patch(`/api/v1/handlers/${(await eventState(accepted.id)).deliveries[0].handler_id}`).set(admin).send({ status: 'archived' });
    });
  }

  it('a repeated post with the same idempotency key answers the first event and creates nothing', async () => {
    const r = await t.receiver();
    await handler(r, { event: 'accounting.payments.create' });
    const body = { event: 'accounting.payments.create', object_id: nextObject(), data: { amount: '5.00', type: 'payment' } };
    const first = await post({ ...body, idempotency_key: 'pay-42' });
    assert.equal(first.replayed, false);
    const repeat = await post({ ...body, idempotency_key: 'pay-42' });
    assert.equal(repeat.id, first.id);
    assert.equal(repeat.replayed, true);
    assert.deepEqual(repeat.deliveries, first.deliveries);
    const viaHeader = await t.http.post('/api/v1/events').set(events).set('Idempotency-Key', 'pay-42').send(body);
    assert.equal(viaHeader.status, 202);
    assert.equal(viaHeader.body.id, first.id);
    assert.equal(viaHeader.headers['idempotent-replayed'], 'true');
    await settled(first.id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(r.requests.length, 1, 'the repeats must not be delivered');
    const logs = await logsOf('event=accounting.payments.create');
    assert.equal(logs.items.length, 1);
    const clash = await t.http.post('/api/v1/events').set(events).set('Idempotency-Key', 'other').send({ ...body, idempotency_key: 'pay-42' });
    assert.equal(clash.status, 400);
    assert.equal(clash.body.code, 'IDEMPOTENCY_KEY_INVALID');
  });

  it('starts events about one object in the order they were accepted', async () => {
    const r = await t.receiver(() => ({ status: 200, delayMs: 120 }));
    await handler(r, { event: 'clients.accounts.update', priority: 1 });
    await handler(r, { event: 'clients.accounts.update', priority: 2 });
    const id = nextObject();
    const accepted = [];
    for (let i = 0; i < 3; i++) {
      accepted.push(await post({ event: 'clients.accounts.update', object_id: id, data: { id, name: `v${i}` } }));
    }
    const requests = await r.waitFor(6);
    const names = requests.map((q) => JSON.parse(q.body).data.name);
    assert.deepEqual(names, ['v0', 'v0', 'v1', 'v1', 'v2', 'v2']);
    for (let i = 1; i < requests.length; i++) assert.ok(requests[i]!.at - requests[i - 1]!.at >= 110);
  });

  it('skips, and logs as skipped, a delivery whose handler was disabled before it ran', async () => {
    const slow = await t.receiver(() => ({ status: 200, delayMs: 600 }));
    const fast = await t.receiver();
    await handler(slow, { event: 'dids.reserve', priority: 1 });
    const later = await handler(fast, { event: 'dids.reserve', priority: 2 });
    const accepted = await post({ event: 'dids.reserve', object_id: nextObject() });
    await slow.waitFor(1);
    await t.http.post(`/api/v1/handlers/${later.id}/toggle`).set(admin).expect(200);
    const state = await settled(accepted.id);
    assert.deepEqual(state.deliveries.map((d: { status: string }) => d.status), ['succeeded', 'skipped']);
    assert.equal(fast.requests.length, 0);
    const logs = await logsOf(`event_id=${accepted.id}&status=skipped`);
    assert.equal(logs.items.length, 1);
    assert.match(logs.items[0].error, /disabled/);
  });

  it('signs with the new and the old secret during a rotation; a verifier we did not write accepts both', async () => {
    const r = await t.receiver();
    const h = await handler(r, { event: 'dids.activate' });
    const rotated = await t.http.post(`/api/v1/handlers/${h.id}/rotate-secret`).set(admin);
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.previous_secret, h.signing_secret);
    assert.notEqual(rotated.body.signing_secret, h.signing_secret);
    secretsByPath.get(`${r.port}${h.path}`)!.push(rotated.body.signing_secret);
    const revealed = await t.http.get(`/api/v1/handlers/${h.id}/secret`).set(admin);
    assert.equal(revealed.body.signing_secret, rotated.body.signing_secret);
    const readKey = bearer(await t.key('read'));
    assert.equal((await t.http.get(`/api/v1/handlers/${h.id}/secret`).set(readKey)).status, 403);

    await post({ event: 'dids.activate', object_id: nextObject() });
    const [request] = await r.waitFor(1);
    const signatures = String(request!.headers['webhook-signature']).split(' ');
    assert.equal(signatures.length, 2);
    for (const secret of [h.signing_secret, rotated.body.signing_secret]) {
      assert.doesNotThrow(() => new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>));
    }
  });

  it('every request any receiver got verifies with the standardwebhooks package', () => {
    let verified = 0;
    for (const r of t.receivers) {
      for (const request of r.requests) {
        const secrets = secretsByPath.get(`${r.port}${request.path}`);
        assert.ok(secrets, `no secret for ${request.path}`);
        const ok = secrets.some((secret) => {
          try {
            new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
            return true;
          } catch {
            return false;
          }
        });
        assert.ok(ok, `request to ${request.path} did not verify`);
        verified += 1;
      }
    }
    assert.ok(verified >= 20, `only ${verified} requests were checked`);
  });

  it('filters execution logs by handler, event, status, error text and time; the detail shows the payload', async () => {
    const r = await t.receiver((request) => ({ status: JSON.parse(request.body).data.name === 'bad' ? 418 : 200 }));
    const h = await handler(r, { event: 'clients.create', retry_limit: 0 });
    const good = await post({ event: 'clients.create', object_id: nextObject(), data: { name: 'good' } });
    const bad = await post({ event: 'clients.create', object_id: nextObject(), data: { name: 'bad' } });
    await settled(good.id);
    await settled(bad.id);
    const byHandler = await logsOf(`handler_id=${h.id}`);
    assert.equal(byHandler.items.length, 2);
    assert.ok(byHandler.items[0].id > byHandler.items[1].id, 'newest first');
    // The two calls ran side by side: either may have finished first.
    assert.deepEqual(byHandler.items.map((l: { event_id: number }) => l.event_id).sort(), [good.id, bad.id].sort());
    const fails = await logsOf(`handler_id=${h.id}&status=fail`);
    assert.deepEqual(fails.items.map((l: { event_id: number }) => l.event_id), [bad.id]);
    const byError = await logsOf(`error=ANSWERED%20418`);
    assert.ok(byError.items.length >= 1 && byError.items.every((l: { error: string }) => /418/.test(l.error)));
    const future = await logsOf(`handler_id=${h.id}&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.equal(future.items.length, 0);
    const past = await logsOf(`handler_id=${h.id}&to=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`);
    assert.equal(past.items.length, 0);
    const byEvent = await logsOf(`event=clients.create&handler_id=${h.id}`);
    assert.equal(byEvent.items.length, 2);
    const perHandler = (await t.http.get(`/api/v1/handlers/${h.id}/execution-logs?per_page=1`).set(admin)).body;
    assert.equal(perHandler.total, 2);
    assert.equal(perHandler.items.length, 1);

    const goodLog = byHandler.items.find((l: { event_id: number }) => l.event_id === good.id);
    const detail = (await t.http.get(`/api/v1/execution-logs/${goodLog.id}`).set(admin)).body;
    assert.deepEqual(JSON.parse(detail.request_payload).data, { name: 'good' });
    assert.equal(goodLog.request_payload, undefined, 'the list leaves the payload out');
    assert.equal((await t.http.get('/api/v1/execution-logs/99999999').set(admin)).body.code, 'EXECUTION_LOG_NOT_FOUND');
    assert.equal((await t.http.get('/api/v1/execution-logs?status=maybe').set(admin)).body.code, 'VALIDATION_FAILED');

    // The handler is deleted: its logs stay readable with the name it had.
    await t.http.delete(`/api/v1/handlers/${h.id}`).set(admin).expect(204);
    const kept = await logsOf(`handler_id=${h.id}`);
    assert.equal(kept.items.length, 2);
    assert.equal(kept.items[0].handler_name, `handler ${h.path}`);
  });

  it('the retention cleaner deletes rows older than the retention period, in batches', async () => {
    const service = t.app.get(ExecutionLogsService);
    const DAY = 86_400_000;
    const old = (n: number, createdAt: number) => Array.from({ length: n }, () => logRecord({ eventType: 'clients.create', handlerId: 1, handlerName: 'old', responseBody: null, createdAt }));
    const countBefore = async (cutoff: number) => Number((await t.app.get(DataSource).query('SELECT COUNT(*) AS n FROM execution_logs WHERE created_at < ?', [cutoff]))[0].n);
    if (t.kind.name === 'mysql') {
      // Rows written before the table was partitioned by day ranges of ids keep their ids in
      // p_history, in the order they were written; while a row there is young, the expired
      // ones go in batches (retention finds where they end along the ids:
      // src/database/ids-by-time.ts). Today's rows stay with their day's partition.
      const before = (await logsOf('per_page=1')).total;
      const rows = [...old(1205, Date.now() - 40 * DAY), logRecord({ eventType: 'clients.create', handlerId: 1, handlerName: 'young', responseBody: null, createdAt: Date.now() - DAY })];
      for (let from = 0; from < rows.length; from += 500) {
        const chunk = rows.slice(from, from + 500);
        await t.app.get(DataSource).query(
          `INSERT INTO execution_logs (id, ${LOG_COLUMNS.join(', ')}) VALUES ${chunk.map(() => `(${Array(LOG_COLUMNS.length + 1).fill('?').join(', ')})`).join(', ')}`,
          chunk.flatMap((record, i) => [from + i + 1, ...logValues(record)]),
        );
      }
      assert.equal(await countBefore(Date.now() - 30 * DAY), 1205);
      assert.equal(await t.app.get(RetentionService).removeExpiredLogs(), 1205);
      assert.equal((await logsOf('per_page=1')).total, before + 1);
      assert.equal((await t.app.get(DataSource).query('SELECT handler_name FROM execution_logs WHERE id = 1206'))[0].handler_name, 'young');
      return;
    }
    // SQLite: rows are written in the order of their dates, as a running service writes them
    // (retention finds where the expired rows end along the ids: src/database/ids-by-time.ts), so
    // the clock moves instead: 1205 rows now, 7 rows two seconds on, and retention runs the
    // retention period and one second later, when the first ones and every earlier row have expired.
    const at = Date.now();
    await service.insert(old(1205, at));
    await service.insert(Array.from({ length: 7 }, () => logRecord({ eventType: 'clients.create', handlerId: 1, handlerName: 'kept', responseBody: null, createdAt: at + 2000 })));
    const cutoff = at + 1000;
    const expired = await countBefore(cutoff);
    assert.ok(expired >= 1205);
    assert.equal(await t.app.get(RetentionService).removeExpiredLogs(cutoff + t.config.logs.retentionDays * DAY), expired);
    const left = await logsOf('per_page=100');
    assert.equal(left.total, 7);
    assert.ok(left.items.every((item: { handler_name: string }) => item.handler_name === 'kept'));
  });

  it('POST /handlers/:id/test sends the sample payload now and answers the log row', async () => {
    const r = await t.receiver();
    const h = await handler(r, { event: 'clients.*', status: 'disabled' });
    const response = await t.http.post(`/api/v1/handlers/${h.id}/test`).set(admin).send({ event: 'clients.archive' });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.status, 'success');
    assert.equal(response.body.trigger, 'test');
    assert.equal(response.body.response_code, 200);
    const [request] = await r.waitFor(1);
    assert.equal(JSON.parse(request!.body).event.events_id, 'clients.archive');
    assert.equal(response.body.request_payload, request!.body);
    const wrong = await t.http.post(`/api/v1/handlers/${h.id}/test`).set(admin).send({ event: 'dids.block' });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.code, 'UNKNOWN_EVENT');
  });

  const badEvents: [string, unknown, string, string][] = [
    ['an unknown event ID', { event: 'clients.explode', object_id: 1 }, 'UNKNOWN_EVENT', 'event'],
    ['a wildcard as event ID', { event: 'clients.*', object_id: 1 }, 'UNKNOWN_EVENT', 'event'],
    ['a missing object_id', { event: 'clients.update' }, 'VALIDATION_FAILED', 'object_id'],
    ['a fractional object_id', { event: 'clients.update', object_id: 1.5 }, 'VALIDATION_FAILED', 'object_id'],
    ['data of the wrong type', { event: 'clients.update', object_id: 7, data: { id: 7, balance: 'lots' } }, 'DATA_INVALID', 'data.balance'],
    ['a wrong enum value', { event: 'dids.update', object_id: 7, data: { status: 'lost' } }, 'DATA_INVALID', 'data.status'],
    ['data.id differing from object_id', { event: 'clients.update', object_id: 7, data: { id: 8 } }, 'DATA_INVALID', 'data.id'],
    ['data that is not an object', { event: 'clients.update', object_id: 7, data: [1] }, 'VALIDATION_FAILED', 'data'],
    ['a dt without offset', { event: 'clients.update', object_id: 7, dt: '2026-11-22 10:15' }, 'VALIDATION_FAILED', 'dt'],
    ['an unknown field', { event: 'clients.update', object_id: 7, colour: 'red' }, 'VALIDATION_FAILED', 'colour'],
  ];
  for (const [label, body, code, field] of badEvents) {
    it(`refuses ${label} with ${code} and stores nothing`, async () => {
      const counts = async () => {
        return `${await countRows(t, 'events')}/${await countDeliveries(t)}`;
      };
      const before = await counts();
      const response = await t.http.post('/api/v1/events').set(events).send(body as object);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, code);
      assert.ok(response.body.details.some((d: { field: string }) => d.field === field), JSON.stringify(response.body.details));
      assert.equal(await counts(), before);
    });
  }

  it('refuses malformed JSON and an events key on admin routes; answers 404 for an unknown event', async () => {
    const malformed = await t.http.post('/api/v1/events').set(events).set('Content-Type', 'application/json').send('{"event":');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, 'MALFORMED_JSON');
    assert.equal((await t.http.get('/api/v1/handlers').set(events)).status, 403);
    assert.equal((await t.http.post('/api/v1/events').send({ event: 'clients.update', object_id: 1 })).status, 401);
    const readKey = bearer(await t.key('read'));
    assert.equal((await t.http.post('/api/v1/events').set(readKey).send({ event: 'clients.update', object_id: 1 })).status, 403);
    const missing = await t.http.get('/api/v1/events/99999999').set(admin);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'EVENT_NOT_FOUND');
  });

  it('answers a batch per item: valid items accepted, bad ones rejected with their code', async () => {
    const r = await t.receiver();
    await handler(r, { event: 'importd.process_failed' });
    const keyedObject = nextObject();
    const response = await t.http
      .post('/api/v1/events/batch')
      .set(events)
      .send({
        events: [
          { event: 'importd.process_failed', object_id: nextObject(), data: { file_name: 'a.csv', error: 'bad row' } },
          { event: 'nope', object_id: 1 },
          { event: 'importd.process_failed', object_id: nextObject(), data: { rate_tables_id: 'x' } },
          'not an object',
          { event: 'importd.process_failed', object_id: keyedObject, idempotency_key: 'batch-1' },
        ],
      });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(
      response.body.items.map((i: { status: string; error?: { code: string } }) => i.error?.code ?? i.status),
      ['accepted', 'UNKNOWN_EVENT', 'DATA_INVALID', 'VALIDATION_FAILED', 'accepted'],
    );
    assert.equal(response.body.accepted, 2);
    assert.equal(response.body.rejected, 3);
    // Each answered id is the event it names (ids of a multi-row insert are worked out, not read back).
    for (const item of response.body.items.filter((i: { status: string }) => i.status === 'accepted')) {
      const stored = (await t.http.get(`/api/v1/events/${item.event.id}`).set(admin)).body;
      assert.equal(stored.object_id, item.event.object_id);
    }
    await r.waitFor(2);
    const repeat = await t.http.post('/api/v1/events/batch').set(events).send({ events: [{ event: 'importd.process_failed', object_id: keyedObject, idempotency_key: 'batch-1' }] });
    // The same request under the same key replays (a different one would be IDEMPOTENCY_KEY_REUSED).
    assert.equal(repeat.body.items[0].status, 'replayed');
    const empty = await t.http.post('/api/v1/events/batch').set(events).send({ events: [] });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.code, 'VALIDATION_FAILED');
  });
});

forEachDatabase('automatic disabling of a handler that keeps failing', { env: { RETRY_SCHEDULE: '150ms', AUTO_DISABLE_AFTER: '1s', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let r: TestReceiver;

  before(async () => {
    r = await t.receiver(() => ({ status: 500 }));
  });

  it('disables it, with the reason shown, once it has failed without pause for AUTO_DISABLE_AFTER', async () => {
    const admin = bearer(t.adminKey);
    const created = await t.http
      .post('/api/v1/handlers')
      .set(admin)
      .send({ name: 'flaky', event: 'clients.delete', type: 'http', task: r.task(), retry_limit: 30 });
    await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.delete', object_id: 5 }).expect(202);
    const shown = await eventually(async () => {
      const body = (await t.http.get(`/api/v1/handlers/${created.body.id}`).set(admin)).body;
      return body.status === 'disabled' ? body : undefined;
    }, 10_000, 'automatic disabling');
    assert.match(shown.disabled_reason, /without a success since/);
    const calls = r.requests.length;
    assert.ok(calls >= 5, `only ${calls} calls before disabling`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(r.requests.length, calls, 'no call after the handler was disabled');
  });
});

