import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { clientRecord } from '../factories/event.factory.js';
import { bearer, countDeliveries, countRows } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';
import { EVENT_CATALOG } from '../../src/events/event-catalog.js';

forEachDatabase('event-source adapters over HTTP', { env: { DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let events: Record<string, string>;
  let admin: Record<string, string>;
  let updates: TestReceiver;
  let zeros: TestReceiver;

  before(async () => {
    admin = bearer(t.adminKey);
    events = await keyHeaders(t, 'events');
    updates = await t.receiver();
    zeros = await t.receiver();
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'CRM', event: 'clients.update', type: 'http', task: updates.task() }).expect(201);
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'Switch', event: 'clients.balance_zero', type: 'http', task: zeros.task() }).expect(201);
  });

  const counts = async () => {
    return `${await countRows(t, 'events')}/${await countDeliveries(t)}`;
  };
  const client = clientRecord;

  it('a client update lowering the balance from 10 to -5 reaches the clients.update and clients.balance_zero handlers', async () => {
    const response = await t.http
      .post('/api/v1/sources/client/changes')
      .set(events)
      .send({ op: 'update', before: client(), after: client({ balance: -5 }) });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.deepEqual(response.body.events.map((e: { event: string }) => e.event), ['clients.update', 'clients.balance_zero']);
    assert.ok(response.body.events[0].id < response.body.events[1].id, 'accepted in their fixed order');
    assert.match(response.body.message, /2 events/);

    const [update] = await updates.waitFor(1);
    const [zero] = await zeros.waitFor(1);
    assert.deepEqual(JSON.parse(update!.body).data, { id: 12, balance: -5 });
    const envelope = JSON.parse(zero!.body);
    assert.equal(envelope.event.events_id, 'clients.balance_zero');
    assert.equal(envelope.event.object_id, 12);
    assert.deepEqual(envelope.data, {});
  });

  it('a change in which nothing differs derives nothing and says so', async () => {
    const before = await counts();
    const response = await t.http.post('/api/v1/sources/client/changes').set(events).send({ op: 'update', before: client(), after: client() });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.events, []);
    assert.match(response.body.message, /no event/i);
    assert.equal(await counts(), before);
  });

  it('a repeated change with the same idempotency key answers the same events and creates nothing', async () => {
    const body = { op: 'update', before: client({ name: 'A' }), after: client({ name: 'B', status: 'archive' }), idempotency_key: 'chg-1' };
    const first = await t.http.post('/api/v1/sources/client/changes').set(events).send(body);
    assert.deepEqual(first.body.events.map((e: { event: string }) => e.event), ['clients.update', 'clients.archive']);
    const before = await counts();
    const repeat = await t.http.post('/api/v1/sources/client/changes').set(events).send(body);
    assert.deepEqual(repeat.body.events.map((e: { id: number }) => e.id), first.body.events.map((e: { id: number }) => e.id));
    assert.ok(repeat.body.events.every((e: { replayed: boolean }) => e.replayed));
    assert.equal(await counts(), before);
  });

  it('maps a DID status change to its event and other changes to dids.update', async () => {
    const did = { id: 4471, did: '4420711122233', status: 'in_stock', tag: 'x' };
    const response = await t.http
      .post('/api/v1/sources/did/changes')
      .set(events)
      .send({ op: 'update', before: did, after: { ...did, status: 'active', tag: 'y' } });
    assert.deepEqual(response.body.events.map((e: { event: string }) => e.event), ['dids.update', 'dids.activate']);
  });

  const bad: [string, string, Record<string, unknown>, number, string, string][] = [
    ['an unknown entity', 'planet', { op: 'create', after: { id: 1 } }, 404, 'UNKNOWN_ENTITY', 'entity'],
    ['a wrong op', 'client', { op: 'explode', after: client() }, 400, 'INVALID_OPERATION', 'op'],
    ['a missing op', 'client', { after: client() }, 400, 'INVALID_OPERATION', 'op'],
    ['a create without after', 'client', { op: 'create' }, 400, 'VALIDATION_FAILED', 'after'],
    ['a field of the wrong type', 'client', { op: 'update', before: client(), after: client({ balance: 'lots' }) }, 400, 'DATA_INVALID', 'after.balance'],
    ['before.id differing from after.id', 'client', { op: 'update', before: client(), after: client({ id: 13 }) }, 400, 'DATA_INVALID', 'after.id'],
    ['an unknown body field', 'client', { op: 'create', after: client(), colour: 'red' }, 400, 'VALIDATION_FAILED', 'colour'],
    ['a bad dt', 'client', { op: 'create', after: client(), dt: 'yesterday' }, 400, 'VALIDATION_FAILED', 'dt'],
  ];
  for (const [label, entity, body, status, code, field] of bad) {
    it(`refuses ${label} with ${code} and accepts nothing`, async () => {
      const before = await counts();
      const response = await t.http.post(`/api/v1/sources/${entity}/changes`).set(events).send(body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.code, code);
      assert.ok(response.body.details.some((d: { field: string }) => d.field === field), JSON.stringify(response.body.details));
      assert.equal(await counts(), before);
    });
  }

  it('needs the events scope', async () => {
    const read = bearer(await t.key('read'));
    assert.equal((await t.http.post('/api/v1/sources/client/changes').set(read).send({ op: 'create', after: client() })).status, 403);
  });

  it('documents each entity shape and every event\'s data schema (Swagger and GET /event-types/{id})', async () => {
    const doc = (await t.http.get('/docs-json')).body;
    for (const entity of ['client', 'account', 'subscription', 'did', 'transaction', 'import_job', 'rates_email']) {
      assert.ok(doc.components.schemas[`CoreApi.${entity}`]?.properties?.id, `CoreApi.${entity}`);
    }
    for (const event of EVENT_CATALOG) assert.ok(doc.components.schemas[`EventData.${event.id}`], `EventData.${event.id}`);
    assert.ok(doc.paths['/api/v1/sources/{entity}/changes'].post);
    const one = (await t.http.get('/api/v1/event-types/clients.update').set(events)).body;
    assert.equal(one.data_schema.properties.balance.oneOf.length, 2);
    assert.equal(one.sample.event.events_id, 'clients.update');
    const empty = (await t.http.get('/api/v1/event-types/clients.delete').set(events)).body;
    assert.equal(empty.data_schema.type, 'object');
    assert.equal(empty.data_schema.properties, undefined);
  });
});
