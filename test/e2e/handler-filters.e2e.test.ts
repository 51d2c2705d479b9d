import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { CreatedHandler, handlerBody, postHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import { Received, TestReceiver } from '../utils/receiver.js';
import { CacheManagerService } from '../../src/cache-manager/cache-manager.service.js';
import { deliveryRows as deliveriesOf } from '../utils/delivery-rows.js';

const envelopeOf = (request: Received) => JSON.parse(request.body) as { event: { events_id: string; object_id: number }; data: Record<string, unknown> };

/**
 * Payload filters end to end: saved and shown with the handler, refused with their position
 * when invalid, evaluated at ingest (a handler whose filter does not match gets no delivery
 * row and is counted in the metrics), in the before chain, on wildcard handlers, and tried by
 * POST /api/v1/handlers/{id}/filter/test.
 */
forEachDatabase('payload filters', { env: { DISPATCH_POLL_INTERVAL_MS: '50', FILTER_MAX_BYTES: '1024', FILTER_MAX_DEPTH: '6' } }, (t) => {
  let admin: Record<string, string>;
  let receiver: TestReceiver;
  let objectId = 100;
  let paths = 0;

  before(async () => {
    admin = bearer(t.adminKey);
    receiver = await t.receiver();
  });

  /** Creates a handler; unless `task` is given it calls `receiver` on a path of its own. */
  const create = (overrides: Record<string, unknown>) => postHandler(t, handlerBody({ type: 'http', task: receiver.task(`/p${++paths}`), ...overrides }), admin);
  /** The envelopes `receiver` got for a handler, by the path of its task. */
  const receivedBy = (h: CreatedHandler) => {
    const task = String(h.task);
    return receiver.requests.filter((r) => r.path === task.slice(task.indexOf('/'))).map(envelopeOf);
  };
  /** The deliveries of an event, read with SQL (those delivered from their log rows): handler ids in run order. */
  const deliveryRows = async (eventId: number) => (await deliveriesOf((text, params) => t.app.get(DataSource).query(text, params), { eventId })).map((row) => row.handlerId);
  const handlerRows = async () => JSON.stringify(await t.app.get(DataSource).query('SELECT * FROM handlers ORDER BY id'));
  /** provisioning_events_filtered_out_total for one handler (0 when it has no sample yet). */
  const filteredOut = async (handlerId: number) => {
    const text = (await t.http.get('/metrics').set(admin).expect(200)).text;
    const line = text.split('\n').find((l) => l.startsWith(`provisioning_events_filtered_out_total{handler_id="${handlerId}"}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('stores the filter, shows it in every view, changes it with PATCH and clears it with null', async () => {
    const filter = { $or: [{ 'data.companies_id': { $in: [1, 3] } }, { 'data.balance': { $lt: 0 } }] };
    const created = await create({ event: 'importd.process_failed', name: 'filtered CRM', filter });
    assert.deepEqual(created.filter, filter);
    const shown = await t.http.get(`/api/v1/handlers/${created.id}`).set(admin).expect(200);
    assert.deepEqual(shown.body.filter, filter);
    const listed = await t.http.get('/api/v1/handlers?per_page=500').set(admin).expect(200);
    assert.deepEqual(listed.body.items.find((h: { id: number }) => h.id === created.id).filter, filter);

    // An edit that leaves the filter out keeps it; a new one replaces it; null removes it.
    const renamed = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin).send({ name: 'renamed' }).expect(200);
    assert.deepEqual(renamed.body.filter, filter);
    const replaced = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin).send({ filter: { 'data.status': 'active' } }).expect(200);
    assert.deepEqual(replaced.body.filter, { 'data.status': 'active' });
    const cleared = await t.http.patch(`/api/v1/handlers/${created.id}`).set(admin).send({ filter: null }).expect(200);
    assert.equal(cleared.body.filter, null);
    const [row] = await t.app.get(DataSource).query('SELECT payload_filter FROM handlers WHERE id = ?', [created.id]);
    assert.equal(row.payload_filter, null, 'a cleared filter is SQL NULL');

    const plain = await create({ event: 'importd.process_failed', name: 'no filter' });
    assert.equal(plain.filter, null);
  });

  it('creates deliveries only for the handlers whose filter matches; the others get no row and are counted', async () => {
    const all = await create({ event: 'clients.update', name: 'all', priority: 1 });
    const company3 = await create({ event: 'clients.update', name: 'company 3', priority: 2, filter: { 'data.companies_id': 3 } });
    const negative = await create({ event: 'clients.update', name: 'negative', priority: 3, filter: { 'data.balance': { $lt: 0 } } });
    const before = { company3: await filteredOut(company3.id), negative: await filteredOut(negative.id), all: await filteredOut(all.id) };

    const id1 = ++objectId;
    const matching = await postEvent(t, { event: 'clients.update', object_id: id1, data: { id: id1, companies_id: 3, balance: 5 } });
    assert.deepEqual(matching.deliveries.map((d) => d.handler_id), [all.id, company3.id]);
    assert.deepEqual(await deliveryRows(matching.id), [all.id, company3.id]);

    const id2 = ++objectId;
    const neither = await postEvent(t, { event: 'clients.update', object_id: id2, data: { id: id2, companies_id: 4, balance: 5 } });
    assert.deepEqual(neither.deliveries.map((d) => d.handler_id), [all.id]);
    assert.deepEqual(await deliveryRows(neither.id), [all.id], 'no delivery row for a handler whose filter does not match');

    const id3 = ++objectId;
    const both = await postEvent(t, { event: 'clients.update', object_id: id3, data: { id: id3, companies_id: 3, balance: -1.5 } });
    assert.deepEqual(await deliveryRows(both.id), [all.id, company3.id, negative.id]);

    // A batch is filtered item by item.
    const batch = await t.http
      .post('/api/v1/events/batch')
      .set(admin)
      .send({ events: [{ event: 'clients.update', object_id: ++objectId, data: { companies_id: 4, balance: -2 } }, { event: 'clients.update', object_id: ++objectId, data: { companies_id: 9 } }] })
      .expect(200);
    assert.deepEqual(await deliveryRows(batch.body.items[0].event.id), [all.id, negative.id]);
    assert.deepEqual(await deliveryRows(batch.body.items[1].event.id), [all.id]);

    for (const event of [matching, neither, both, batch.body.items[0].event, batch.body.items[1].event]) await waitUntilSettled(t, event.id);
    // What the targets received: "all" five events, "company 3" the two of company 3, "negative" the two negative balances.
    const objects = (h: CreatedHandler) => receivedBy(h).map((e) => e.event.object_id).sort((a, b) => a - b);
    assert.deepEqual(objects(all), [id1, id2, id3, objectId - 1, objectId]);
    assert.deepEqual(objects(company3), [id1, id3]);
    assert.deepEqual(objects(negative), [id3, objectId - 1]);

    assert.equal((await filteredOut(company3.id)) - before.company3, 3, 'company 3 missed three events');
    assert.equal((await filteredOut(negative.id)) - before.negative, 3, 'negative missed three events');
    assert.equal((await filteredOut(all.id)) - before.all, 0, 'a handler without a filter is never counted');
  });

  it('applies a filter on a wildcard handler to every event it covers', async () => {
    const wildcard = await create({
      event: 'clients.*',
      name: 'company 7, not deletions',
      filter: { 'data.companies_id': 7, 'event.events_id': { $ne: 'clients.delete' } },
    });
    const everything = await create({ event: '*', name: 'everything for object 7777', filter: { 'event.object_id': 7777 } });

    const created = await postEvent(t, { event: 'clients.create', object_id: 7777, data: { id: 7777, name: 'Seven', companies_id: 7 } });
    const account = await postEvent(t, { event: 'clients.accounts.create', object_id: 7001, data: { id: 7001, clients_id: 7777, companies_id: 7 } });
    const other = await postEvent(t, { event: 'clients.archive', object_id: 7002, data: { companies_id: 8 } });
    const deleted = await postEvent(t, { event: 'clients.delete', object_id: 7003, data: { companies_id: 7 } });
    const did = await postEvent(t, { event: 'dids.create', object_id: 7777, data: { id: 7777, did: '15551234567' } });

    assert.deepEqual(await deliveryRows(created.id), [wildcard.id, everything.id]);
    assert.deepEqual(await deliveryRows(account.id), [wildcard.id]);
    assert.deepEqual(await deliveryRows(other.id), []);
    assert.deepEqual(await deliveryRows(deleted.id), [], 'the filter keeps clients.delete from the wildcard handler');
    assert.deepEqual(await deliveryRows(did.id), [everything.id], 'dids.* is outside clients.*; the "*" handler matches on object_id');

    for (const event of [created, account]) await waitUntilSettled(t, event.id);
    assert.deepEqual(receivedBy(wildcard).map((e) => e.event.events_id).sort(), ['clients.accounts.create', 'clients.create']);
  });

  it('refuses an invalid filter on create and on PATCH with INVALID_FILTER and its position, and changes nothing', async () => {
    const existing = await create({ name: 'to keep', filter: { 'data.companies_id': 1 } });
    const stored = await handlerRows();
    const version = t.app.get(CacheManagerService).status().version;
    const cases: [unknown, string, RegExp][] = [
      [{ $or: [{ 'data.companies_id': 3 }, { 'data.balance': { $regex: '^(a+)+$' } }] }, 'filter.$or[1].data.balance.$regex', /not an allowed operator/],
      [{ $or: [{ 'data.companies_id': 3 }, { balance: { $lt: 0 } }] }, 'filter.$or[1].balance', /paths start at the envelope/],
      [{ $where: 'this.data.balance < 0' }, 'filter.$where', /not an allowed operator/],
      [{ 'data.companies_id': { $in: 3 } }, 'filter.data.companies_id.$in', /must be an array/],
      [{ 'data.companies_id': { $in: Array.from({ length: 400 }, (_, i) => i) } }, 'filter', /the limit is 1024 \(FILTER_MAX_BYTES\)/],
      [{ $or: [{ $or: [{ $or: [{ 'data.a': 1 }] }] }] }, 'filter.$or[0].$or[0].$or[0]', /deeper than 6 levels/],
    ];
    for (const [filter, field, message] of cases) {
      for (const [method, url, body] of [
        ['post', '/api/v1/handlers', handlerBody({ task: receiver.task('/never'), filter })],
        ['patch', `/api/v1/handlers/${existing.id}`, { name: 'changed', filter }],
      ] as const) {
        const response = await t.http[method](url).set(admin).send(body);
        assert.equal(response.status, 400, `${method} ${JSON.stringify(filter)}: ${response.text}`);
        assert.equal(response.body.code, 'INVALID_FILTER');
        assert.equal(response.body.statusCode, 400);
        assert.equal(response.body.details[0].field, field, JSON.stringify(response.body));
        assert.match(response.body.details[0].message, message);
      }
    }
    // A filter that is not an object is refused by the field's type, before any filter rule.
    for (const filter of [[], 'data.companies_id', 3]) {
      const response = await t.http.post('/api/v1/handlers').set(admin).send(handlerBody({ task: receiver.task('/never'), filter }));
      assert.equal(response.status, 400);
      assert.equal(response.body.code, 'VALIDATION_FAILED');
      assert.equal(response.body.details[0].field, 'filter');
    }
    assert.equal(await handlerRows(), stored, 'a refused filter changed the handlers table');
    assert.equal(t.app.get(CacheManagerService).status().version, version, 'a refused filter reached the cache');
  });

  it('POST /api/v1/handlers/{id}/filter/test tries the saved filter or one from the body on a sample envelope', async () => {
    const h = await create({ event: 'clients.*', name: 'tested', filter: { 'data.balance': { $lt: 0 } } });
    const url = `/api/v1/handlers/${h.id}/filter/test`;
    const envelope = (data: Record<string, unknown>, eventsId = 'clients.update') => ({
      event: { dt: '2026-11-22T10:15:30+00:00', events_id: eventsId, object_id: 12 },
      data,
    });
    const stored = await handlerRows();

    const saved = await t.http.post(url).set(admin).send({ envelope: envelope({ id: 12, balance: -3 }) }).expect(200);
    assert.deepEqual(saved.body, { matches: true, event_matches: true, would_receive: true, source: 'saved', filter: { 'data.balance': { $lt: 0 } } });
    const savedMiss = await t.http.post(url).set(admin).send({ envelope: envelope({ id: 12, balance: 3 }) }).expect(200);
    assert.equal(savedMiss.body.matches, false);
    assert.equal(savedMiss.body.would_receive, false);

    const given = { 'data.companies_id': { $in: [1, 3] } };
    const body = await t.http.post(url).set(admin).send({ filter: given, envelope: envelope({ companies_id: 3 }, 'dids.create') }).expect(200);
    assert.deepEqual(body.body, { matches: true, event_matches: false, would_receive: false, source: 'body', filter: given });
    const none = await t.http.post(url).set(admin).send({ filter: null, envelope: envelope({}) }).expect(200);
    assert.deepEqual(none.body, { matches: true, event_matches: true, would_receive: true, source: 'body', filter: null });
    // dt may be left out (now, as at ingest); a read key may try filters.
    const reader = bearer(await t.key('read'));
    const noDt = await t.http.post(url).set(reader).send({ filter: { 'event.dt': { $exists: true } }, envelope: { event: { events_id: 'clients.create', object_id: 1 }, data: {} } }).expect(200);
    assert.equal(noDt.body.matches, true);

    const invalid = await t.http.post(url).set(admin).send({ filter: { $or: [{ 'data.a': 1 }, { 'data.b': { $where: '1' } }] }, envelope: envelope({}) });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.code, 'INVALID_FILTER');
    assert.equal(invalid.body.details[0].field, 'filter.$or[1].data.b.$where');
    const unknown = await t.http.post(url).set(admin).send({ envelope: envelope({}, 'clients.nothing') });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'UNKNOWN_EVENT');
    assert.equal(unknown.body.details[0].field, 'envelope.event.events_id');
    const shapeless = await t.http.post(url).set(admin).send({ envelope: { event: { events_id: 'clients.update' }, data: [] } });
    assert.equal(shapeless.status, 400);
    assert.equal(shapeless.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(shapeless.body.details.map((d: { field: string }) => d.field).sort(), ['envelope.data', 'envelope.event.object_id']);
    const missing = await t.http.post('/api/v1/handlers/999999/filter/test').set(admin).send({ envelope: envelope({}) });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'HANDLER_NOT_FOUND');
    const eventsKey = await t.http.post(url).set(bearer(await t.key('events'))).send({ envelope: envelope({}) });
    assert.equal(eventsKey.status, 403);
    assert.equal(await handlerRows(), stored, 'trying a filter changed a handler');
  });

  it('matches each before handler against the data as the handlers before it left it, and skips it unasked when it does not match', async () => {
    const paths = { raise: '/gate-raise', negative: '/gate-negative', company: '/gate-company' };
    const gates = await t.receiver((request) => {
      if (request.path === paths.raise) return { status: 200, body: JSON.stringify({ data: { ...envelopeOf(request).data, balance: -1 } }) };
      return { status: 200, body: '' };
    });
    const event = 'clients.custom_fields.update';
    const raise = await create({ event, stage: 'before', priority: 1, task: gates.task(paths.raise), filter: { 'data.companies_id': 5 } });
    const negative = await create({ event, stage: 'before', priority: 2, task: gates.task(paths.negative), filter: { 'data.balance': { $lt: 0 } } });
    const company = await create({ event, stage: 'before', priority: 3, task: gates.task(paths.company), filter: { 'data.companies_id': 6 } });
    const counted = { raise: await filteredOut(raise.id), negative: await filteredOut(negative.id), company: await filteredOut(company.id) };

    // Company 5, balance 10: "raise" matches and sets the balance to -1, so "negative" now matches too; "company" (6) does not.
    const first = await t.http.post('/api/v1/events/decide').set(admin).send({ event, object_id: 5, data: { id: 5, companies_id: 5, balance: 10 } }).expect(200);
    assert.equal(first.body.allowed, true);
    assert.deepEqual(first.body.calls.map((c: { handler_id: number }) => c.handler_id), [raise.id, negative.id]);
    assert.equal(first.body.data.balance, -1);
    // Company 6, balance 10: only "company" matches.
    const second = await t.http.post('/api/v1/events/decide').set(admin).send({ event, object_id: 6, data: { id: 6, companies_id: 6, balance: 10 } }).expect(200);
    assert.deepEqual(second.body.calls.map((c: { handler_id: number }) => c.handler_id), [company.id]);

    assert.deepEqual(gates.requests.map((r) => r.path), [paths.raise, paths.negative, paths.company], 'a handler whose filter did not match was called');
    assert.deepEqual(envelopeOf(gates.requests[1]!).data.balance, -1);
    // No execution log for a handler that was not asked.
    const logs = await t.http.get(`/api/v1/execution-logs?handler_id=${company.id}`).set(admin).expect(200);
    assert.equal(logs.body.items.length, 1);
    assert.equal((await filteredOut(raise.id)) - counted.raise, 1);
    assert.equal((await filteredOut(negative.id)) - counted.negative, 1);
    assert.equal((await filteredOut(company.id)) - counted.company, 1);
  });

  it('keeps applying filters after a full cache reload, and lets nothing through a stored filter that breaks the rules', async () => {
    const kept = await create({ event: 'dids.update', name: 'kept', filter: { 'data.tag': 'gold' } });
    const broken = await create({ event: 'dids.update', name: 'broken' });
    // Written past the API: an operator the service refuses. The handler must not receive everything.
    await t.app.get(DataSource).query('UPDATE handlers SET payload_filter = ? WHERE id = ?', ['{"data.tag":{"$where":"true"}}', broken.id]);
    await t.http.post('/api/v1/cache/refresh').set(admin).expect(200);

    const gold = await postEvent(t, { event: 'dids.update', object_id: 8001, data: { id: 8001, tag: 'gold' } });
    const plain = await postEvent(t, { event: 'dids.update', object_id: 8002, data: { id: 8002, tag: 'plain' } });
    assert.deepEqual(await deliveryRows(gold.id), [kept.id]);
    assert.deepEqual(await deliveryRows(plain.id), []);
    assert.equal(await filteredOut(broken.id), 2);
    await waitUntilSettled(t, gold.id);
    assert.deepEqual(receivedBy(kept).map((e) => e.data.tag), ['gold']);
    assert.deepEqual(receivedBy(broken), []);
  });
});
