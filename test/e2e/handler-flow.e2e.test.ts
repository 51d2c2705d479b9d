import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { createHandler } from '../factories/handler.factory.js';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';

/**
 * The API of flow control per handler, on each database: the cap and the rate limit on create
 * and edit, pause and resume, maintenance windows, the circuit and the pause on the handler
 * view beside `status`, the errors (each with its code, each changing nothing), and the
 * circuit gauge of /metrics. The dispatch behind them is tested in test/service/flow-control*.
 */
forEachDatabase('handler flow control API', {}, (t) => {
  const admin = () => bearer(t.adminKey);
  const inOneHour = () => new Date(Date.now() + 3_600_000).toISOString();

  it('takes a cap and a rate limit on create and edit, and clears them with null', async () => {
    const created = await createHandler(t, { name: 'limited', max_concurrency: 3, rate_limit: 100, rate_period: 'minute' });
    assert.deepEqual([created.max_concurrency, created.rate_limit, created.rate_period], [3, 100, 'minute']);
    const edited = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin()).send({ rate_limit: null, max_concurrency: 8 });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.deepEqual([edited.body.max_concurrency, edited.body.rate_limit, edited.body.rate_period], [8, null, 'minute']);
    for (const body of [{ max_concurrency: 0 }, { max_concurrency: 513 }, { rate_limit: 1.5 }, { rate_limit: 100_001 }, { rate_period: 'hour' }, { rate_period: null }]) {
      const refused = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin()).send(body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.code, 'VALIDATION_FAILED');
      assert.equal(refused.body.details[0].field, Object.keys(body)[0]);
    }
    const fetched = await t.http.get(`/api/v1/handlers/${created.id}`).set(admin());
    assert.deepEqual([fetched.body.max_concurrency, fetched.body.rate_limit], [8, null], 'the refused edits changed nothing');
  });

  it('pauses and resumes: the view shows paused beside status, which stays enabled', async () => {
    const handler = await createHandler(t, { name: 'pausable' });
    const until = inOneHour();
    const paused = await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(admin()).send({ until, reason: 'switch upgrade' });
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.status, 'enabled');
    assert.equal(paused.body.paused.until, until);
    assert.deepEqual([paused.body.paused.reason, paused.body.paused.kind], ['switch upgrade', 'manual']);
    const since = paused.body.paused.since;

    // Pausing again changes the end and the reason, not when it began; no body pauses until resumed.
    const again = await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(admin());
    assert.equal(again.status, 200);
    assert.deepEqual([again.body.paused.since, again.body.paused.until, again.body.paused.reason], [since, null, null]);
    const listed = await t.http.get('/api/v1/handlers').set(admin());
    assert.ok(listed.body.items.find((item: { id: number }) => item.id === handler.id).paused, 'the list shows it too');

    const resumed = await t.http.post(`/api/v1/handlers/${handler.id}/resume`).set(admin());
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.paused, null);
    const twice = await t.http.post(`/api/v1/handlers/${handler.id}/resume`).set(admin());
    assert.equal(twice.status, 200, 'resuming a handler that is not paused is no error');
  });

  it('refuses a pause that would end in the past, and bad input, changing nothing', async () => {
    const handler = await createHandler(t, { name: 'refusing' });
    const past = await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(admin()).send({ until: '2020-01-01T00:00:00Z' });
    assert.equal(past.status, 400);
    assert.deepEqual([past.body.code, past.body.details[0].field], ['INVALID_PAUSE_TIME', 'until']);
    for (const body of [{ until: '2099-02-30T00:00:00Z' }, { until: '2099-01-01T00:00:00' }, { reason: 'x'.repeat(501) }, { paused: true }]) {
      const refused = await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(admin()).send(body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.code, 'VALIDATION_FAILED');
    }
    assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body.paused, null);
    const missing = await t.http.post('/api/v1/handlers/99999999/pause').set(admin());
    assert.deepEqual([missing.status, missing.body.code], [404, 'HANDLER_NOT_FOUND']);
    const reader = await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(bearer(await t.key('read')));
    assert.deepEqual([reader.status, reader.body.code], [403, 'SCOPE_FORBIDDEN']);
  });

  it('schedules, lists and deletes maintenance windows, at most ten, each one sound', async () => {
    const handler = await createHandler(t, { name: 'windows' });
    const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    const first = await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(admin()).send({ from: at(2), to: at(3), reason: 'monthly' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), ['from', 'id', 'reason', 'to']);
    const view = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body;
    assert.deepEqual(view.maintenance_windows, [first.body]);
    assert.equal(view.paused, null, 'a window in the future does not pause yet');

    const bad = [
      [{ from: at(3), to: at(2) }, 'to', 'INVALID_PAUSE_TIME'],
      [{ from: at(-3), to: at(-2) }, 'to', 'INVALID_PAUSE_TIME'],
      [{ from: at(1) }, 'to', 'VALIDATION_FAILED'],
      [{ from: 'tomorrow', to: at(2) }, 'from', 'VALIDATION_FAILED'],
    ] as const;
    for (const [body, field, code] of bad) {
      const refused = await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(admin()).send(body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.deepEqual([refused.body.code, refused.body.details[0].field], [code, field]);
    }
    for (let n = 1; n < 10; n++) {
      assert.equal((await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(admin()).send({ from: at(10 + n), to: at(11 + n) })).status, 201);
    }
    const eleventh = await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(admin()).send({ from: at(30), to: at(31) });
    assert.deepEqual([eleventh.status, eleventh.body.code], [409, 'TOO_MANY_MAINTENANCE_WINDOWS']);

    assert.equal((await t.http.delete(`/api/v1/handlers/${handler.id}/maintenance-windows/${first.body.id}`).set(admin())).status, 204);
    const gone = await t.http.delete(`/api/v1/handlers/${handler.id}/maintenance-windows/${first.body.id}`).set(admin());
    assert.deepEqual([gone.status, gone.body.code], [404, 'MAINTENANCE_WINDOW_NOT_FOUND']);
    const windows = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body.maintenance_windows;
    assert.equal(windows.length, 9);
    assert.deepEqual(windows.map((w: { from: string }) => w.from), [...windows.map((w: { from: string }) => w.from)].sort(), 'earliest first');

    // A window in force pauses the handler; resume cuts it short and leaves the later ones.
    const now = await t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(admin()).send({ from: at(-1), to: at(1), reason: 'now' });
    assert.equal(now.status, 201);
    const inside = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body;
    assert.deepEqual([inside.paused.kind, inside.paused.reason, inside.paused.until], ['window', 'now', now.body.to]);
    const resumed = (await t.http.post(`/api/v1/handlers/${handler.id}/resume`).set(admin())).body;
    assert.equal(resumed.paused, null);
    assert.equal(resumed.maintenance_windows.length, 9);
  });

  it('shows the circuit on the handler and as a gauge per handler in /metrics', async () => {
    const handler = await createHandler(t, { name: 'circuit shown' });
    const fetched = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body;
    assert.deepEqual(fetched.circuit, { state: 'closed', since: null, reason: null, retry_at: null });
    const opened = Date.now();
    await t.app
      .get(DataSource)
      .query("UPDATE handlers SET circuit_state = 'open', circuit_since = ?, circuit_reason = ?, circuit_retry_at = ? WHERE id = ?", [
        opened,
        '10 failed calls in a row; the last: receiver answered 503',
        opened + 30_000,
        handler.id,
      ]);
    const open = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin())).body;
    assert.deepEqual(open.circuit, {
      state: 'open',
      since: new Date(opened).toISOString(),
      reason: '10 failed calls in a row; the last: receiver answered 503',
      retry_at: new Date(opened + 30_000).toISOString(),
    });
    const page = (await t.http.get('/metrics').set(admin())).text;
    assert.match(page, new RegExp(`^provisioning_handler_circuit_state\\{handler_id="${handler.id}",handler="circuit shown"\\} 2$`, 'm'));
    assert.match(page, /^# TYPE provisioning_handler_circuit_state gauge$/m);
  });
});
