import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { forEachDatabase, Suite } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { eventually } from '../utils/receiver.js';
import { createHandler } from '../factories/handler.factory.js';
import { postEvent } from '../factories/event.factory.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { AUDIT_ACTION_NAMES } from '../../src/audit/audit-actions.js';
import { AuditStore } from '../../src/audit/audit-store.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { RetentionService } from '../../src/retention/retention.service.js';

const run = promisify(execFile);
const CLI = resolve('dist/src/cli/keys.js');
const MASK = '********';

type Json = Record<string, any>;
interface AuditPage {
  items: Json[];
  next_cursor: string | null;
  has_more: boolean;
}

/** GET /api/v1/audit with the admin key; asserts 200. */
async function auditPage(t: Suite, query = ''): Promise<AuditPage> {
  const response = await t.http.get(`/api/v1/audit${query ? `?${query}` : ''}`).set(t.admin);
  assert.equal(response.status, 200, `${query}: ${JSON.stringify(response.body)}`);
  return response.body as AuditPage;
}

/** Every page of the list under `query`, following next_cursor; `between` runs after each page. */
async function walk(t: Suite, query: string, between?: () => Promise<void>): Promise<AuditPage[]> {
  const pages: AuditPage[] = [];
  let cursor: string | null = null;
  do {
    const page: AuditPage = await auditPage(t, [query, cursor ? `cursor=${encodeURIComponent(cursor)}` : ''].filter(Boolean).join('&'));
    pages.push(page);
    assert.equal(page.has_more, page.next_cursor !== null);
    cursor = page.next_cursor;
    if (cursor) await between?.();
  } while (cursor);
  return pages;
}

/** The table as stored, every column (what a database reader sees). */
const tableRows = (t: Suite): Promise<Json[]> => t.app.get(DataSource).query('SELECT * FROM audit_log ORDER BY id');
const countRows = async (t: Suite, table: string): Promise<number> => Number((await t.app.get(DataSource).query(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);

forEachDatabase('audit trail', { env: { DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  /** Everything secret the changes below handle: none of it may be in the table or the API's answers. */
  const secrets = new Map<string, string>();
  let ops: { id: number; key: string; headers: Record<string, string> };
  const rowsOf = async (action: string) => (await walk(t, `action=${action}&limit=500`)).flatMap((page) => page.items);

  before(async () => {
    secrets.set('bootstrap admin key', t.adminKey);
    const created = await t.http.post('/api/v1/api-keys').set(t.admin).send({ name: 'ops console', scopes: ['admin'] });
    assert.equal(created.status, 201);
    ops = { id: created.body.id, key: created.body.key, headers: bearer(created.body.key) };
    secrets.set('ops key', ops.key);
  });

  it('records every kind of change with who, when, from where and the record before and after, secrets masked', { timeout: 60_000 }, async () => {
    const started = Date.now();
    const credential = `tok_${randomBytes(20).toString('hex')}`;
    secrets.set('credential header value', credential);
    const as = (requestId: string) => ({ ...ops.headers, 'X-Request-Id': requestId });

    // Handler: create, edit, toggle twice, reveal and rotate its secret, archive, delete.
    const create = await t.http
      .post('/api/v1/handlers')
      .set(as('audit-create-1'))
      .send({ name: 'CRM', event: 'clients.create', type: 'http', task: '127.0.0.1:5000/api', headers: { Authorization: `Bearer ${credential}`, 'X-Api-Key': credential, 'X-Tenant': 'north' } });
    assert.equal(create.status, 201, JSON.stringify(create.body));
    const handler = create.body;
    secrets.set('signing secret', handler.signing_secret);
    const edit = await t.http.patch(`/api/v1/handlers/${handler.id}`).set(as('audit-edit-1')).send({ name: 'CRM (primary)', headers: { ...handler.headers, 'X-Tenant': 'south' } });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    for (const n of [1, 2]) assert.equal((await t.http.post(`/api/v1/handlers/${handler.id}/toggle`).set(as(`audit-toggle-${n}`))).status, 200);
    const revealed = await t.http.get(`/api/v1/handlers/${handler.id}/secret`).set(as('audit-reveal-1'));
    assert.equal(revealed.status, 200);
    assert.equal(revealed.body.signing_secret, handler.signing_secret);
    const rotated = await t.http.post(`/api/v1/handlers/${handler.id}/rotate-secret`).set(as('audit-rotate-1'));
    assert.equal(rotated.status, 200);
    secrets.set('rotated signing secret', rotated.body.signing_secret);

    // Deliveries: one failed for good (port 1 refuses at once), retried by hand, then in bulk.
    const failing = await createHandler(t, { name: 'closed port', event: 'dids.create', task: '127.0.0.1:1/closed', retry_limit: 0 }, ops.headers);
    secrets.set('signing secret of the failing handler', failing.signing_secret);
    const event = await postEvent(t, { event: 'dids.create', object_id: 7, data: { id: 7 } });
    const failedDelivery = async () =>
      eventually(async () => {
        const delivery = (await t.http.get(`/api/v1/events/${event.id}`).set(t.admin)).body.deliveries[0];
        return delivery?.status === 'failed' ? (delivery.id as number) : undefined;
      }, 15_000, 'the delivery failed');
    const deliveryId = await failedDelivery();
    assert.equal((await t.http.post(`/api/v1/deliveries/${deliveryId}/retry`).set(as('audit-retry-1'))).status, 200);
    await eventually(async () => ((await t.http.get(`/api/v1/handlers/${failing.id}/execution-logs`).set(t.admin)).body.items.length === 2 ? true : undefined));
    await failedDelivery();
    const range = { from: new Date(started - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const bulk = await t.http.post(`/api/v1/handlers/${failing.id}/deliveries/retry`).set(as('audit-bulk-1')).send(range);
    assert.deepEqual([bulk.status, bulk.body], [200, { queued: 1 }]);

    // Flow control: a pause, its resume, a maintenance window scheduled and deleted.
    const pauseUntil = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.equal((await t.http.post(`/api/v1/handlers/${failing.id}/pause`).set(as('audit-pause-1')).send({ until: pauseUntil, reason: 'upgrade' })).status, 200);
    assert.equal((await t.http.post(`/api/v1/handlers/${failing.id}/resume`).set(as('audit-resume-1'))).status, 200);
    const window = await t.http.post(`/api/v1/handlers/${failing.id}/maintenance-windows`).set(as('audit-window-1')).send({ from: '2099-11-22T02:00:00Z', to: '2099-11-22T04:00:00Z', reason: 'monthly' });
    assert.equal(window.status, 201, JSON.stringify(window.body));
    assert.equal((await t.http.delete(`/api/v1/handlers/${failing.id}/maintenance-windows/${window.body.id}`).set(as('audit-window-delete-1'))).status, 204);

    // A handler disabled by the service itself: its target answers 410 Gone.
    const gone = await t.receiver(() => ({ status: 410 }));
    const goneHandler = await createHandler(t, { name: 'gone', event: 'accounting.payments.create', task: gone.task('/gone') }, ops.headers);
    secrets.set('signing secret of the gone handler', goneHandler.signing_secret);
    await postEvent(t, { event: 'accounting.payments.create', object_id: 3, data: { id: 3, amount: 5 } });
    await eventually(async () => ((await t.http.get(`/api/v1/handlers/${goneHandler.id}`).set(t.admin)).body.status === 'disabled' ? true : undefined));

    // Cache refresh; keys made and revoked through the API and through the keys command.
    assert.equal((await t.http.post('/api/v1/cache/refresh').set(as('audit-refresh-1'))).status, 200);
    const temp = await t.http.post('/api/v1/api-keys').set(as('audit-key-1')).send({ name: 'temporary', scopes: ['read'] });
    assert.equal(temp.status, 201);
    secrets.set('temporary key', temp.body.key);
    assert.equal((await t.http.delete(`/api/v1/api-keys/${temp.body.id}`).set(as('audit-revoke-1'))).status, 204);
    assert.equal((await t.http.delete(`/api/v1/api-keys/${temp.body.id}`).set(ops.headers)).status, 204, 'a second revocation answers the same');
    const keys = (...args: string[]) => run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: t.db.url } });
    const made = await keys('create', '--name', 'host key', '--scopes', 'read');
    const cliKey = /^(pk_\S+)$/m.exec(made.stdout)![1]!;
    const cliKeyId = Number(/Created key (\d+)/.exec(made.stdout)![1]);
    secrets.set('key made by the keys command', cliKey);
    await keys('revoke', String(cliKeyId));

    // Archive, then delete.
    assert.equal((await t.http.patch(`/api/v1/handlers/${handler.id}`).set(as('audit-archive-1')).send({ status: 'archived' })).status, 200);
    assert.equal((await t.http.delete(`/api/v1/handlers/${handler.id}`).set(as('audit-delete-1'))).status, 204);

    // Every kind of change has its row.
    const all = (await walk(t, 'limit=500')).flatMap((page) => page.items);
    for (const action of AUDIT_ACTION_NAMES) assert.ok(all.some((row) => row.action === action), `no audit row for ${action}`);

    const one = (rows: Json[], requestId: string) => {
      const found = rows.filter((row) => row.request_id === requestId);
      assert.equal(found.length, 1, `one row for request ${requestId}: ${JSON.stringify(found)}`);
      return found[0]!;
    };
    const byOps = (row: Json) => {
      assert.deepEqual(row.actor, { type: 'api_key', key_id: ops.id, name: 'ops console' });
      assert.match(row.client_address, /^(::ffff:)?127\.0\.0\.1$/);
      const at = Date.parse(row.at);
      assert.ok(at >= started - 1000 && at <= Date.now() + 1000, row.at);
    };

    const created = one(await rowsOf('handler.create'), 'audit-create-1');
    byOps(created);
    assert.deepEqual([created.target_type, created.target_id, created.before], ['handler', handler.id, null]);
    assert.equal(created.after.name, 'CRM');
    assert.deepEqual(created.after.headers, { Authorization: MASK, 'X-Api-Key': MASK, 'X-Tenant': 'north' });
    assert.equal(created.after.signing_secret, MASK);

    const edited = one(await rowsOf('handler.update'), 'audit-edit-1');
    byOps(edited);
    assert.deepEqual([edited.before.name, edited.after.name], ['CRM', 'CRM (primary)']);
    assert.deepEqual([edited.before.headers['X-Tenant'], edited.after.headers['X-Tenant']], ['north', 'south']);
    assert.equal(edited.after.headers.Authorization, MASK, 'a kept credential header stays masked');

    const toggles = await rowsOf('handler.toggle');
    assert.deepEqual([one(toggles, 'audit-toggle-1').after.status, one(toggles, 'audit-toggle-2').after.status], ['disabled', 'enabled']);
    const reveal = one(await rowsOf('handler.secret_reveal'), 'audit-reveal-1');
    byOps(reveal);
    assert.deepEqual([reveal.target_id, reveal.before, reveal.after], [handler.id, null, null]);
    const rotation = one(await rowsOf('handler.secret_rotate'), 'audit-rotate-1');
    assert.deepEqual([rotation.before.signing_secret, rotation.before.previous_secret, rotation.after.signing_secret, rotation.after.previous_secret], [MASK, null, MASK, MASK]);
    assert.equal(rotation.before.previous_secret_expires_at, null);
    assert.ok(Date.parse(rotation.after.previous_secret_expires_at) > started);

    const retry = one(await rowsOf('delivery.retry'), 'audit-retry-1');
    assert.deepEqual([retry.target_type, retry.target_id, retry.after], ['delivery', deliveryId, { status: 'pending', manual: true }]);
    const bulkRow = one(await rowsOf('handler.retry_failed'), 'audit-bulk-1');
    assert.deepEqual([bulkRow.target_type, bulkRow.target_id, bulkRow.after], ['handler', failing.id, { ...range, queued: 1 }]);

    const pauseRow = one(await rowsOf('handler.pause'), 'audit-pause-1');
    byOps(pauseRow);
    assert.deepEqual([pauseRow.target_type, pauseRow.target_id, pauseRow.before, pauseRow.after.until, pauseRow.after.reason], ['handler', failing.id, null, new Date(pauseUntil).toISOString(), 'upgrade']);
    const resumeRow = one(await rowsOf('handler.resume'), 'audit-resume-1');
    assert.deepEqual([resumeRow.target_id, resumeRow.before.pauses.map((p: Json) => [p.kind, p.reason]), resumeRow.after], [failing.id, [['manual', 'upgrade']], null]);
    const windowRow = one(await rowsOf('handler.window_add'), 'audit-window-1');
    assert.deepEqual([windowRow.target_id, windowRow.before, windowRow.after], [failing.id, null, { id: window.body.id, kind: 'window', from: '2099-11-22T02:00:00.000Z', until: '2099-11-22T04:00:00.000Z', reason: 'monthly' }]);
    const windowDeleted = one(await rowsOf('handler.window_delete'), 'audit-window-delete-1');
    assert.deepEqual([windowDeleted.target_id, windowDeleted.before, windowDeleted.after], [failing.id, windowRow.after, null]);

    const [disabled] = (await rowsOf('handler.disable')).filter((row) => row.target_id === goneHandler.id);
    assert.ok(disabled, 'the automatic disabling is recorded');
    assert.deepEqual([disabled.actor.type, disabled.actor.key_id, disabled.before.status, disabled.after.status], ['system', null, 'enabled', 'disabled']);
    assert.match(disabled.after.disabled_reason, /410/);

    const refresh = one(await rowsOf('cache.refresh'), 'audit-refresh-1');
    assert.deepEqual([refresh.target_type, refresh.target_id, refresh.before], ['cache', null, null]);
    assert.equal(typeof refresh.after.handler_count, 'number');

    const keyRows = await rowsOf('api_key.create');
    const tempRow = one(keyRows, 'audit-key-1');
    byOps(tempRow);
    assert.deepEqual([tempRow.target_id, tempRow.after.name, tempRow.after.scopes, tempRow.after.key_prefix], [temp.body.id, 'temporary', ['read'], temp.body.key_prefix]);
    assert.ok(!('key' in tempRow.after), 'the key itself is never in the row');
    const bootstrap = keyRows.find((row) => row.target_id === 1);
    assert.deepEqual([bootstrap?.actor.type, bootstrap?.after.scopes], ['system', ['admin']], 'the first admin key came from the service');
    const revocations = (await rowsOf('api_key.revoke')).filter((row) => row.target_id === temp.body.id);
    assert.equal(revocations.length, 1, 'a second revocation changes nothing and has no row');
    assert.deepEqual([revocations[0]!.request_id, revocations[0]!.before.revoked_at, typeof revocations[0]!.after.revoked_at], ['audit-revoke-1', null, 'string']);
    for (const action of ['api_key.create', 'api_key.revoke']) {
      const row = (await rowsOf(action)).find((r) => r.target_id === cliKeyId);
      assert.ok(row, `${action} by the keys command`);
      assert.equal(row.actor.type, 'cli');
      assert.equal(row.actor.key_id, null);
      assert.match(row.actor.name, /^npm run keys/);
      assert.deepEqual([row.client_address, row.request_id], [null, null]);
    }

    const archived = one(await rowsOf('handler.archive'), 'audit-archive-1');
    assert.deepEqual([archived.before.status, archived.after.status], ['enabled', 'archived']);
    const deleted = one(await rowsOf('handler.delete'), 'audit-delete-1');
    assert.deepEqual([deleted.target_id, deleted.before.name, deleted.after], [handler.id, 'CRM (primary)', null]);

    // Filtered by key: only this key's rows, and all of them.
    const mine = (await walk(t, `actor_key_id=${ops.id}&limit=5`)).flatMap((page) => page.items);
    assert.deepEqual(
      mine.map((row) => row.id),
      all.filter((row) => row.actor.key_id === ops.id).map((row) => row.id),
    );
    assert.ok(mine.length >= 14, `rows of the ops key: ${mine.length}`);
    // By record: everything done to the first handler, newest first, from create to delete.
    const history = (await walk(t, `target_type=handler&target_id=${handler.id}`)).flatMap((page) => page.items);
    assert.deepEqual(
      history.map((row) => row.action),
      ['handler.delete', 'handler.archive', 'handler.secret_rotate', 'handler.secret_reveal', 'handler.toggle', 'handler.toggle', 'handler.update', 'handler.create'],
    );
  });

  it('keeps every secret out of the table and out of the answers', async () => {
    assert.ok(secrets.size >= 9, `${secrets.size} secrets`);
    const stored = JSON.stringify(await tableRows(t));
    const answered = JSON.stringify(await walk(t, 'limit=3'));
    assert.match(stored, /\*{8}/, 'the table holds masked values');
    for (const [name, secret] of secrets) {
      assert.ok(secret.length >= 16, `${name} is a real secret`);
      const core = secret.replace(/^whsec_/, '');
      assert.ok(!stored.includes(core), `${name} is in the audit_log table`);
      assert.ok(!answered.includes(core), `${name} is in an answer of GET /api/v1/audit`);
    }
  });

  it('writes no audit row for a change that is refused, nor a change without its row', async () => {
    const handler = await createHandler(t, { name: 'kept', event: 'clients.update', task: '127.0.0.1:5000/kept' }, ops.headers);
    const readKey = await t.key('read');
    const refused: [string, () => Promise<{ status: number; body: Json }>, number][] = [
      ['create: a bad priority', () => t.http.post('/api/v1/handlers').set(ops.headers).send({ name: 'x', event: 'clients.update', type: 'http', task: '127.0.0.1:5000/x', priority: 'high' }), 400],
      ['create: a forbidden target', () => t.http.post('/api/v1/handlers').set(ops.headers).send({ name: 'x', event: 'clients.update', type: 'http', task: '169.254.169.254/latest' }), 400],
      ['create: an unknown event', () => t.http.post('/api/v1/handlers').set(ops.headers).send({ name: 'x', event: 'no.such.event', type: 'http', task: '127.0.0.1:5000/x' }), 400],
      ['edit: a bad timeout', () => t.http.patch(`/api/v1/handlers/${handler.id}`).set(ops.headers).send({ timeout_ms: -5 }), 400],
      ['edit: a header with a line break', () => t.http.patch(`/api/v1/handlers/${handler.id}`).set(ops.headers).send({ headers: { 'X-A': 'a\r\nb' } }), 400],
      ['edit: no such handler', () => t.http.patch('/api/v1/handlers/999999').set(ops.headers).send({ name: 'y' }), 404],
      ['toggle: no such handler', () => t.http.post('/api/v1/handlers/999999/toggle').set(ops.headers), 404],
      ['secret: no such handler', () => t.http.get('/api/v1/handlers/999999/secret').set(ops.headers), 404],
      ['rotate: no such handler', () => t.http.post('/api/v1/handlers/999999/rotate-secret').set(ops.headers), 404],
      ['delete: no such handler', () => t.http.delete('/api/v1/handlers/999999').set(ops.headers), 404],
      ['key: an unknown scope', () => t.http.post('/api/v1/api-keys').set(ops.headers).send({ name: 'x', scopes: ['root'] }), 400],
      ['key: internal from an admin key', () => t.http.post('/api/v1/api-keys').set(ops.headers).send({ name: 'x', scopes: ['internal'] }), 403],
      ['revoke: no such key', () => t.http.delete('/api/v1/api-keys/999999').set(ops.headers), 404],
      ['retry: no such delivery', () => t.http.post('/api/v1/deliveries/999999/retry').set(ops.headers), 404],
      ['bulk retry: from after to', () => t.http.post(`/api/v1/handlers/${handler.id}/deliveries/retry`).set(ops.headers).send({ from: '2026-11-30T00:00:00Z', to: '2026-11-01T00:00:00Z' }), 400],
      ['refresh: a read key', () => t.http.post('/api/v1/cache/refresh').set(bearer(readKey)), 403],
      ['retry: a read key', () => t.http.post(`/api/v1/handlers/${handler.id}/deliveries/retry`).set(bearer(readKey)).send({ from: '2026-11-01T00:00:00Z', to: '2026-11-30T00:00:00Z' }), 403],
      ['pause: an end in the past', () => t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(ops.headers).send({ until: '2020-01-01T00:00:00Z' }), 400],
      ['pause: a read key', () => t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(bearer(readKey)), 403],
      ['window: to before from', () => t.http.post(`/api/v1/handlers/${handler.id}/maintenance-windows`).set(ops.headers).send({ from: '2099-01-02T00:00:00Z', to: '2099-01-01T00:00:00Z' }), 400],
      ['window: no such window', () => t.http.delete(`/api/v1/handlers/${handler.id}/maintenance-windows/999999`).set(ops.headers), 404],
    ];
    const before = await countRows(t, 'audit_log');
    for (const [what, send, status] of refused) {
      const response = await send();
      assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
    }
    assert.equal(await countRows(t, 'audit_log'), before, 'no refused request wrote an audit row');
    assert.equal((await t.http.get('/api/v1/audit').set(bearer(readKey))).status, 403, 'the audit trail is for admin keys');

    // The change and its row are one transaction: without the table, the change is refused too.
    const data = t.app.get(DataSource);
    const handlers = await countRows(t, 'handlers');
    const feed = await countRows(t, 'handler_changes');
    const keys = await countRows(t, 'api_keys');
    await data.query('ALTER TABLE audit_log RENAME TO audit_log_away');
    try {
      const create = await t.http.post('/api/v1/handlers').set(ops.headers).send({ name: 'unaudited', event: 'clients.update', type: 'http', task: '127.0.0.1:5000/u' });
      assert.ok(create.status >= 500, `create without the audit table: ${create.status}`);
      assert.ok((await t.http.post(`/api/v1/handlers/${handler.id}/toggle`).set(ops.headers)).status >= 500);
      assert.ok((await t.http.post('/api/v1/api-keys').set(ops.headers).send({ name: 'unaudited', scopes: ['read'] })).status >= 500);
      assert.ok((await t.http.get(`/api/v1/handlers/${handler.id}/secret`).set(ops.headers)).status >= 500, 'no secret shown unless its reveal is recorded');
      assert.ok((await t.http.post(`/api/v1/handlers/${handler.id}/pause`).set(ops.headers)).status >= 500, 'no pause without its audit row');
    } finally {
      await data.query('ALTER TABLE audit_log_away RENAME TO audit_log');
    }
    assert.deepEqual(
      [await countRows(t, 'handlers'), await countRows(t, 'handler_changes'), await countRows(t, 'api_keys')],
      [handlers, feed, keys],
      'nothing changed without its audit row',
    );
    assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin)).body.status, 'enabled');
    assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(t.admin)).body.paused, null, 'the pause was rolled back with its audit row');
  });

  it('filters by key, action, record and time, and pages by cursor, stable while rows are added', async () => {
    const store = t.app.get(AuditStore);
    const seed = (n: number, keyId: number) =>
      store.record({
        actor: { type: 'api_key', keyId, name: `seed ${keyId}` },
        action: n % 2 === 0 ? 'handler.update' : 'cache.refresh',
        targetId: n % 2 === 0 ? 9000 + (n % 4) : null,
        before: { n },
        after: { n: n + 1 },
      });
    for (let n = 0; n < 40; n++) await seed(n, 901 + (n % 3));
    await new Promise((done) => setTimeout(done, 25));
    const middle = Date.now();
    await new Promise((done) => setTimeout(done, 25));
    for (let n = 40; n < 80; n++) await seed(n, 901 + (n % 3));

    const sqlIds = async (where: string, params: unknown[]) =>
      ((await t.app.get(DataSource).query(`SELECT id FROM audit_log WHERE ${where} ORDER BY id DESC`, params)) as { id: unknown }[]).map((row) => Number(row.id));
    const ids = (pages: AuditPage[]) => pages.flatMap((page) => page.items.map((row) => row.id as number));

    // A walk sees exactly the rows that matched when it began, though rows are added between its pages.
    const expected = await sqlIds('actor_key_id = ? AND action = ?', [901, 'handler.update']);
    assert.ok(expected.length >= 12, `${expected.length} rows`);
    let added = 0;
    const pages = await walk(t, 'actor_key_id=901&action=handler.update&limit=5', async () => {
      await seed(100 + 2 * added++, 901);
    });
    assert.ok(added >= 2);
    assert.deepEqual(ids(pages), expected);
    assert.ok(pages.slice(0, -1).every((page) => page.items.length === 5));
    assert.ok(pages.every((page) => page.items.every((row) => row.actor.key_id === 901 && row.action === 'handler.update')));
    // The rows added meanwhile come first in a new walk.
    assert.deepEqual(ids(await walk(t, 'actor_key_id=901&action=handler.update&limit=500')).slice(added), expected);

    assert.deepEqual(ids(await walk(t, 'target_type=handler&target_id=9002&limit=7')), await sqlIds('target_type = ? AND target_id = ?', ['handler', 9002]));
    assert.deepEqual(ids(await walk(t, 'target_type=cache&limit=50')), await sqlIds('target_type = ?', ['cache']));
    const iso = new Date(middle).toISOString();
    assert.deepEqual(ids(await walk(t, `actor_key_id=902&to=${iso}`)), await sqlIds('actor_key_id = ? AND created_at <= ?', [902, middle]));
    const later = ids(await walk(t, `actor_key_id=902&from=${iso}&limit=4`));
    assert.deepEqual(later, await sqlIds('actor_key_id = ? AND created_at >= ?', [902, middle]));
    assert.ok(later.length >= 13, `${later.length} rows after the middle`);
    assert.deepEqual((await auditPage(t, `from=${new Date(Date.now() + 3_600_000).toISOString()}`)).items, []);

    // A cursor belongs to its filters and to this list.
    const first = await auditPage(t, 'actor_key_id=901&limit=2');
    const refusedCursor = async (query: string) => {
      const response = await t.http.get(`/api/v1/audit?${query}`).set(t.admin);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.code, 'INVALID_CURSOR', query);
    };
    await refusedCursor(`actor_key_id=902&limit=2&cursor=${first.next_cursor}`);
    await refusedCursor(`limit=2&cursor=${first.next_cursor}`);
    await refusedCursor(`actor_key_id=901&limit=2&cursor=${first.next_cursor!.slice(0, -2)}`);
    const logsCursor = Buffer.from(`v1:${first.items[1]!.id}:${'0'.repeat(16)}`).toString('base64url');
    await refusedCursor(`actor_key_id=901&cursor=${logsCursor}`);
    await t.app.get(ExecutionLogsService).insert(
      Array.from({ length: 3 }, () => logRecord({ handlerId: 77, handlerName: 'x', responseBody: null })),
    );
    const logs = await t.http.get('/api/v1/execution-logs?limit=1').set(t.admin);
    assert.ok(logs.body.next_cursor);
    await refusedCursor(`cursor=${logs.body.next_cursor}`);

    // Bad filters are refused with the field named.
    for (const [query, field] of [['action=handler.destroy', 'action'], ['target_type=event', 'target_type'], ['limit=0', 'limit'], ['limit=501', 'limit'], ['actor_key_id=0x1', 'actor_key_id'], ['from=2026-02-30', 'from']]) {
      const response = await t.http.get(`/api/v1/audit?${query}`).set(t.admin);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.code, 'VALIDATION_FAILED', query);
      assert.equal(response.body.details[0].field, field, query);
    }
  });

  it('keeps audit rows when execution logs expire; AUDIT_RETENTION is off unless set', async () => {
    const rows = await countRows(t, 'audit_log');
    await t.app.get(RetentionService).removeExpired(Date.now() + 3650 * 86_400_000);
    assert.equal(await countRows(t, 'execution_logs'), 0, 'every log expired');
    assert.equal(await countRows(t, 'audit_log'), rows, 'no audit row went with them');
    assert.equal(await t.app.get(RetentionService).removeExpiredAudit(Date.now() + 3650 * 86_400_000), 0, 'without AUDIT_RETENTION no audit row expires');
  });
});

forEachDatabase('audit trail with AUDIT_RETENTION', { env: { AUDIT_RETENTION: '30d' } }, (t) => {
  it('deletes, on the cleanup schedule, the rows older than AUDIT_RETENTION and only those', async () => {
    const data = t.app.get(DataSource);
    const day = 86_400_000;
    await createHandler(t, { name: 'recent change' });
    const columns = 'created_at, actor_type, actor_key_id, actor_name, action, target_type, target_id';
    for (const age of [400, 31, 29]) {
      await data.query(`INSERT INTO audit_log (${columns}) VALUES (?, 'api_key', 1, 'old', 'handler.update', 'handler', ?)`, [Date.now() - age * day, age]);
    }
    const before = await countRows(t, 'audit_log');
    const job = t.app.get(SchedulerRegistry).getCronJob('retention');
    assert.equal(job.cronTime.source, t.config.logs.cleanupCron, 'on the logs cleanup schedule');
    await job.fireOnTick();
    const left = await eventually(async () => {
      const ids = ((await data.query('SELECT target_id FROM audit_log WHERE actor_name = ? ORDER BY target_id', ['old'])) as { target_id: unknown }[]).map((r) => Number(r.target_id));
      return ids.length === 1 ? ids : undefined;
    });
    assert.deepEqual(left, [29]);
    assert.equal(await countRows(t, 'audit_log'), before - 2, 'the rows within 30 days stay');
  });
});
