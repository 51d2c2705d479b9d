import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { handlerBody } from '../factories/handler.factory.js';
import { CacheManagerService } from '../../src/cache-manager/cache-manager.service.js';

forEachDatabase('handlers API', {}, (t) => {
  let admin: Record<string, string>;

  before(async () => {
    admin = bearer(t.adminKey);
  });

  const create = async (overrides: Record<string, unknown> = {}) => {
    const response = await t.http.post('/api/v1/handlers').set(admin).send(handlerBody(overrides));
    assert.equal(response.status, 201, JSON.stringify(response.body));
    return response.body as Record<string, any>;
  };
  const all = async () => {
    const response = await t.http.get('/api/v1/handlers?status=&per_page=500').set(admin);
    const archived = await t.http.get('/api/v1/handlers?status=archived&per_page=500').set(admin);
    return [...response.body.items, ...archived.body.items] as Record<string, any>[];
  };
  /** Runs `work` and asserts the stored handlers are exactly as before. */
  const unchanged = async (work: () => Promise<void>) => {
    const before = JSON.stringify(await all());
    const version = t.app.get(CacheManagerService).status().version;
    await work();
    assert.equal(JSON.stringify(await all()), before, 'the stored handlers changed');
    assert.equal(t.app.get(CacheManagerService).status().version, version, 'the cache version changed');
  };

  it('creates, reads, edits and deletes a handler with every field', async () => {
    const created = await create({
      name: 'Softswitch sync',
      event: 'clients.update',
      type: 'https',
      task: 'my-domain.org/api',
      priority: 5,
      stage: 'before',
      timeout_ms: 2500,
      retry_limit: 3,
      headers: { 'X-Tenant': 'north', Authorization: 'Bearer s3cret' },
      on_failure: 'allow',
      filter: { 'data.companies_id': { $in: [1, 3] } },
    });
    assert.equal(typeof created.id, 'number');
    // The signing secret is shown once, on create, and in no other answer.
    const { signing_secret: secret, ...shown } = created;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(
      { ...shown, id: 0, created_at: '', updated_at: '' },
      {
        id: 0,
        name: 'Softswitch sync',
        event: 'clients.update',
        type: 'https',
        task: 'my-domain.org/api',
        target_url: 'https://my-domain.org/api',
        status: 'enabled',
        priority: 5,
        stage: 'before',
        timeout_ms: 2500,
        retry_limit: 3,
        headers: { 'X-Tenant': 'north', Authorization: '********' },
        on_failure: 'allow',
        filter: { 'data.companies_id': { $in: [1, 3] } },
        disabled_reason: null,
        max_concurrency: null,
        rate_limit: null,
        rate_period: 'second',
        paused: null,
        maintenance_windows: [],
        circuit: { state: 'closed', since: null, reason: null, retry_at: null },
        auth: null,
        client_certificate: null,
        created_at: '',
        updated_at: '',
      },
    );
    assert.ok(!JSON.stringify(created).includes('s3cret'), 'a secret header value leaked');

    const fetched = await t.http.get(`/api/v1/handlers/${created.id}`).set(admin);
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.body, shown);
    const listed = await t.http.get('/api/v1/handlers').set(admin);
    assert.ok(!JSON.stringify(listed.body).includes(secret), 'a signing secret appeared in the list');

    // Sending the mask back keeps the stored secret; the other header changes.
    const edited = await t.http
      .patch(`/api/v1/handlers/${created.id}`)
      .set(admin)
      .send({ name: 'Renamed', priority: 7, headers: { 'X-Tenant': 'south', Authorization: '********' } });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.equal(edited.body.name, 'Renamed');
    assert.equal(edited.body.priority, 7);
    assert.equal(edited.body.on_failure, 'allow');
    assert.deepEqual(edited.body.headers, { 'X-Tenant': 'south', Authorization: '********' });
    const { HandlerEntity } = await import('../../src/handlers/handler.entity.js');
    const { DataSource } = await import('typeorm');
    const stored = await t.app.get(DataSource).getRepository(HandlerEntity).findOneByOrFail({ id: created.id });
    assert.equal(stored.headers.Authorization, 'Bearer s3cret');

    // Switching to stage after clears on_failure.
    const toAfter = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin).send({ stage: 'after' });
    assert.equal(toAfter.status, 200);
    assert.equal(toAfter.body.on_failure, null);

    const removed = await t.http.delete(`/api/v1/handlers/${created.id}`).set(admin);
    assert.equal(removed.status, 204);
    const gone = await t.http.get(`/api/v1/handlers/${created.id}`).set(admin);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'HANDLER_NOT_FOUND');
  });

  it('applies defaults: enabled, stage after, 15 s timeout, priority 10', async () => {
    const created = await create({ event: 'dids.create', priority: undefined });
    assert.equal(created.status, 'enabled');
    assert.equal(created.stage, 'after');
    assert.equal(created.timeout_ms, 15000);
    assert.equal(created.priority, 10);
    assert.equal(created.on_failure, null);
    const before = await create({ event: 'dids.create', stage: 'before' });
    assert.equal(before.on_failure, 'forbid');
  });

  it('filters by event, type and status; blank status hides archived; sorts by priority then id; paginates', async () => {
    const event = 'accounting.payments.update';
    const a = await create({ event, priority: 3, name: 'a' });
    const b = await create({ event, priority: 1, name: 'b', type: 'https', task: 'https://pay.example.com/hook' });
    const c = await create({ event, priority: 3, name: 'c', status: 'disabled' });
    const d = await create({ event, priority: 2, name: 'd', status: 'archived' });
    const e = await create({ event, priority: 1, name: 'e' });

    const list = async (query: string) => {
      const response = await t.http.get(`/api/v1/handlers?event=${event}&${query}`).set(admin);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body as { items: { id: number }[]; total: number; page: number; per_page: number };
    };
    const ids = (page: { items: { id: number }[] }) => page.items.map((h) => h.id);

    assert.deepEqual(ids(await list('')), [b.id, e.id, a.id, c.id]);
    assert.deepEqual(ids(await list('status=')), [b.id, e.id, a.id, c.id]);
    assert.deepEqual(ids(await list('status=archived')), [d.id]);
    assert.deepEqual(ids(await list('status=enabled')), [b.id, e.id, a.id]);
    assert.deepEqual(ids(await list('status=disabled')), [c.id]);
    assert.deepEqual(ids(await list('type=https')), [b.id]);
    assert.deepEqual(ids(await list('type=http&status=enabled')), [e.id, a.id]);

    const page1 = await list('per_page=2&page=1');
    const page2 = await list('per_page=2&page=2');
    assert.equal(page1.total, 4);
    assert.equal(page2.total, 4);
    assert.equal(page2.page, 2);
    assert.equal(page2.per_page, 2);
    assert.deepEqual([...ids(page1), ...ids(page2)], [b.id, e.id, a.id, c.id]);

    const other = await t.http.get('/api/v1/handlers?event=dids.block').set(admin);
    assert.deepEqual(other.body.items, []);
  });

  it('toggles enabled ↔ disabled, refuses archived, and archives only through an edit', async () => {
    const h = await create({ event: 'dids.hold' });
    const off = await t.http.post(`/api/v1/handlers/${h.id}/toggle`).set(admin);
    assert.equal(off.status, 200);
    assert.equal(off.body.status, 'disabled');
    const on = await t.http.post(`/api/v1/handlers/${h.id}/toggle`).set(admin);
    assert.equal(on.body.status, 'enabled');

    const archived = await t.http.patch(`/api/v1/handlers/${h.id}`).set(admin).send({ status: 'archived' });
    assert.equal(archived.body.status, 'archived');
    await unchanged(async () => {
      const refused = await t.http.post(`/api/v1/handlers/${h.id}/toggle`).set(admin);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'HANDLER_ARCHIVED');
      assert.match(refused.body.message, /archived/);
    });
    const restored = await t.http.patch(`/api/v1/handlers/${h.id}`).set(admin).send({ status: 'disabled' });
    assert.equal(restored.body.status, 'disabled');

    const missing = await t.http.post('/api/v1/handlers/999999/toggle').set(admin);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'HANDLER_NOT_FOUND');
  });

  it('keeps the cache in run order (priority, ties by id), wildcard-aware, enabled only', async () => {
    const cache = t.app.get(CacheManagerService);
    const p3 = await create({ event: 'importd.process_failed', priority: 3 });
    const p1 = await create({ event: 'importd.process_failed', priority: 1 });
    const p2 = await create({ event: 'importd.process_failed', priority: 2 });
    const p1b = await create({ event: 'importd.*', priority: 1 });
    const star = await create({ event: '*', priority: 2 });
    const off = await create({ event: 'importd.process_failed', priority: 1, status: 'disabled' });
    const before = await create({ event: 'importd.process_failed', priority: 1, stage: 'before' });

    const order = (eventId: string, stage: 'before' | 'after' = 'after') =>
      cache.lookup(eventId, stage).filter((h) => h.event.startsWith('importd') || h.event === '*').map((h) => h.id);
    // No waiting: a change through the API is in this instance's cache when the answer arrives.
    assert.deepEqual(order('importd.process_failed'), [p1.id, p1b.id, p2.id, star.id, p3.id]);
    assert.deepEqual(order('importd.process_success'), [p1b.id, star.id]);
    assert.deepEqual(order('importd.process_failed', 'before'), [before.id]);
    assert.ok(!order('importd.process_failed').includes(off.id));
    assert.ok(cache.lookup('dids.block').some((h) => h.id === star.id), '* must match every event');

    await t.http.post(`/api/v1/handlers/${p1.id}/toggle`).set(admin).expect(200);
    assert.deepEqual(order('importd.process_failed'), [p1b.id, p2.id, star.id, p3.id]);
    await t.http.patch(`/api/v1/handlers/${p3.id}`).set(admin).send({ priority: 1 }).expect(200);
    // Now p3 and p1b share priority 1: the lower id (p3, created first) runs first.
    assert.deepEqual(order('importd.process_failed'), [p3.id, p1b.id, p2.id, star.id]);
    await t.http.delete(`/api/v1/handlers/${star.id}`).set(admin).expect(204);
    assert.deepEqual(order('importd.process_failed'), [p3.id, p1b.id, p2.id]);

    const status = await t.http.get('/api/v1/cache').set(admin);
    assert.equal(status.status, 200);
    assert.equal(status.body.handler_count, cache.status().handlerCount);
    assert.ok(status.body.version > 0);
    const refreshed = await t.http.post('/api/v1/cache/refresh').set(admin);
    assert.equal(refreshed.status, 200);
    assert.equal(typeof refreshed.body.refresh_duration_ms, 'number');
    assert.equal(refreshed.body.version, status.body.version);
    assert.deepEqual(order('importd.process_failed'), [p3.id, p1b.id, p2.id]);
  });

  it('answers 401 without or with a bad key and 403 without the scope', async () => {
    const none = await t.http.get('/api/v1/handlers');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'AUTH_REQUIRED');
    const bad = await t.http.get('/api/v1/handlers').set(bearer('pk_not_a_real_key'));
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'AUTH_INVALID');
    const malformed = await t.http.get('/api/v1/handlers').set('Authorization', 'Basic abc');
    assert.equal(malformed.status, 401);

    const read = bearer(await t.key('read'));
    const events = bearer(await t.key('events'));
    assert.equal((await t.http.get('/api/v1/handlers').set(read)).status, 200);
    await unchanged(async () => {
      const readWrite = await t.http.post('/api/v1/handlers').set(read).send(handlerBody());
      assert.equal(readWrite.status, 403);
      assert.equal(readWrite.body.code, 'SCOPE_FORBIDDEN');
      const eventsList = await t.http.get('/api/v1/handlers').set(events);
      assert.equal(eventsList.status, 403);
      const eventsRefresh = await t.http.post('/api/v1/cache/refresh').set(events);
      assert.equal(eventsRefresh.status, 403);
      const internalOnly = bearer(await t.key('internal'));
      const internalHttp = await t.http.post('/api/v1/handlers').set(internalOnly).send(handlerBody());
      assert.equal(internalHttp.status, 403);
      assert.equal(internalHttp.body.code, 'SCOPE_FORBIDDEN');
    });
    // A revoked key stops working at once.
    const created = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'temp', scopes: ['read'] });
    assert.equal((await t.http.get('/api/v1/handlers').set(bearer(created.body.key))).status, 200);
    await t.http.delete(`/api/v1/api-keys/${created.body.id}`).set(admin).expect(204);
    const revoked = await t.http.get('/api/v1/handlers').set(bearer(created.body.key));
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.code, 'AUTH_INVALID');
  });

  it('refuses script handlers when scripts are disabled, whatever the key', async () => {
    const internalAdmin = bearer(await t.key('admin', 'internal'));
    await unchanged(async () => {
      const refused = await t.http
        .post('/api/v1/handlers')
        .set(internalAdmin)
        .send(handlerBody({ type: 'script', task: 'notify.sh' }));
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'SCRIPT_HANDLERS_DISABLED');
    });
  });

  const badInputs: [string, Record<string, unknown>, number, string, string?][] = [
    ['unknown event ID', { event: 'clients.explode' }, 400, 'UNKNOWN_EVENT', 'event'],
    ['wildcard matching nothing', { event: 'foo.*' }, 400, 'UNKNOWN_EVENT', 'event'],
    ['malformed wildcard', { event: '*.create' }, 400, 'UNKNOWN_EVENT', 'event'],
    ['fractional priority', { priority: 1.5 }, 400, 'VALIDATION_FAILED', 'priority'],
    ['text priority', { priority: 'high' }, 400, 'VALIDATION_FAILED', 'priority'],
    ['zero priority', { priority: 0 }, 400, 'VALIDATION_FAILED', 'priority'],
    ['negative priority', { priority: -3 }, 400, 'VALIDATION_FAILED', 'priority'],
    ['missing name', { name: undefined }, 400, 'VALIDATION_FAILED', 'name'],
    ['blank name', { name: '' }, 400, 'VALIDATION_FAILED', 'name'],
    ['unknown type', { type: 'ftp' }, 400, 'VALIDATION_FAILED', 'type'],
    ['unknown status', { status: 'paused' }, 400, 'VALIDATION_FAILED', 'status'],
    ['task of the other scheme', { type: 'http', task: 'https://x.example.com/a' }, 400, 'INVALID_TASK', 'task'],
    ['task with a space', { task: 'exa mple.com/x' }, 400, 'INVALID_TASK', 'task'],
    ['task with credentials', { task: 'http://u:p@x.example.com/a' }, 400, 'INVALID_TASK', 'task'],
    ['task port out of range', { task: '127.0.0.1:99999/a' }, 400, 'INVALID_TASK', 'task'],
    ['cloud metadata target', { task: '169.254.169.254/latest/meta-data' }, 400, 'TARGET_FORBIDDEN', 'task'],
    ['IPv6 link-local target', { task: 'http://[fe80::1]:8080/x' }, 400, 'TARGET_FORBIDDEN', 'task'],
    ['metadata host name', { task: 'metadata.google.internal/computeMetadata' }, 400, 'TARGET_FORBIDDEN', 'task'],
    ['reserved header', { headers: { 'Content-Type': 'text/plain' } }, 400, 'VALIDATION_FAILED', 'headers.Content-Type'],
    ['signature header', { headers: { 'webhook-signature': 'v1,x' } }, 400, 'VALIDATION_FAILED', 'headers.webhook-signature'],
    ['on_failure on an after handler', { on_failure: 'allow' }, 400, 'VALIDATION_FAILED', 'on_failure'],
    ['timeout too small', { timeout_ms: 5 }, 400, 'VALIDATION_FAILED', 'timeout_ms'],
    ['unknown field', { colour: 'blue' }, 400, 'VALIDATION_FAILED', 'colour'],
  ];
  for (const [label, overrides, status, code, field] of badInputs) {
    it(`refuses ${label} with ${code} and changes nothing`, async () => {
      await unchanged(async () => {
        const response = await t.http.post('/api/v1/handlers').set(admin).send(handlerBody(overrides));
        assert.equal(response.status, status, JSON.stringify(response.body));
        assert.equal(response.body.code, code);
        assert.equal(response.body.statusCode, status);
        assert.equal(typeof response.body.message, 'string');
        if (field) assert.ok(response.body.details.some((d: { field: string }) => d.field === field), JSON.stringify(response.body.details));
      });
    });
  }

  it('refuses a bad edit with its code and leaves the handler as it was', async () => {
    const h = await create({ event: 'dids.reserve' });
    await unchanged(async () => {
      for (const body of [{ priority: 2.5 }, { event: 'nope' }, { task: 'https://x.example.com' }, { type: 'https' , task: 'http://a.example.com'}]) {
        const response = await t.http.patch(`/api/v1/handlers/${h.id}`).set(admin).send(body);
        assert.equal(response.status, 400, JSON.stringify(response.body));
      }
      const missing = await t.http.patch('/api/v1/handlers/424242').set(admin).send({ name: 'x' });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'HANDLER_NOT_FOUND');
      const badId = await t.http.get('/api/v1/handlers/abc').set(admin);
      assert.equal(badId.status, 400);
      assert.equal(badId.body.details[0].field, 'id');
    });
  });

  it('answers malformed JSON, an oversized body and an unknown route with their codes', async () => {
    await unchanged(async () => {
      const malformed = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .set('Content-Type', 'application/json')
        .send('{"name": "x",');
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.code, 'MALFORMED_JSON');
      const huge = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .send(handlerBody({ name: 'x'.repeat(t.config.http.bodyLimitBytes + 10) }));
      assert.equal(huge.status, 413);
      assert.equal(huge.body.code, 'PAYLOAD_TOO_LARGE');
    });
    const route = await t.http.get('/api/v1/nothing-here').set(admin);
    assert.equal(route.status, 404);
    assert.equal(route.body.code, 'ROUTE_NOT_FOUND');
  });
});
