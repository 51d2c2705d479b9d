import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, countRows, TestApp } from '../utils/test-app.js';

const storedEvents = (t: TestApp) => countRows(t, 'events');

forEachDatabase('ingest limits', { env: { BODY_LIMIT_BYTES: '4096', MAX_DATA_BYTES: '512', MAX_BATCH_EVENTS: '3', INGEST_RATE_LIMIT: '0' } }, (t) => {
  it('refuses a body over BODY_LIMIT_BYTES with PAYLOAD_TOO_LARGE and stores nothing', async () => {
    const before = await storedEvents(t);
    const res = await t.http
      .post('/api/v1/events')
      .set(bearer(t.adminKey))
      .send({ event: 'clients.update', object_id: 1, data: { id: 1, notes: 'x'.repeat(5000) } });
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(await storedEvents(t), before);
  });

  it('refuses data over MAX_DATA_BYTES with DATA_TOO_LARGE, naming the field and the limit', async () => {
    const before = await storedEvents(t);
    const res = await t.http
      .post('/api/v1/events')
      .set(bearer(t.adminKey))
      .send({ event: 'clients.update', object_id: 1, data: { id: 1, notes: 'é'.repeat(300) } });
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'DATA_TOO_LARGE');
    assert.deepEqual(res.body.details.map((d: { field: string }) => d.field), ['data']);
    assert.match(res.body.message, /limit is 512 \(MAX_DATA_BYTES\)/);
    assert.equal(await storedEvents(t), before);

    const fits = await t.http
      .post('/api/v1/events')
      .set(bearer(t.adminKey))
      .send({ event: 'clients.update', object_id: 1, data: { id: 1, notes: 'x'.repeat(300) } });
    assert.equal(fits.status, 202, JSON.stringify(fits.body));
    assert.equal(await storedEvents(t), before + 1);
  });

  it('answers an oversized item of a batch on its own and stores the others', async () => {
    const before = await storedEvents(t);
    const res = await t.http
      .post('/api/v1/events/batch')
      .set(bearer(t.adminKey))
      .send({
        events: [
          { event: 'dids.create', object_id: 1 },
          { event: 'clients.update', object_id: 2, data: { id: 2, notes: 'y'.repeat(600) } },
        ],
      });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, 1);
    assert.equal(res.body.items[1].status, 'rejected');
    assert.equal(res.body.items[1].error.code, 'DATA_TOO_LARGE');
    assert.equal(await storedEvents(t), before + 1);
  });

  it('refuses a batch over MAX_BATCH_EVENTS with BATCH_TOO_LARGE and stores none of it', async () => {
    const before = await storedEvents(t);
    const events = [1, 2, 3, 4].map((id) => ({ event: 'dids.create', object_id: id }));
    const res = await t.http.post('/api/v1/events/batch').set(bearer(t.adminKey)).send({ events });
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'BATCH_TOO_LARGE');
    assert.deepEqual(res.body.details.map((d: { field: string }) => d.field), ['events']);
    assert.match(res.body.message, /at most 3 events/);
    assert.equal(await storedEvents(t), before);

    const three = await t.http.post('/api/v1/events/batch').set(bearer(t.adminKey)).send({ events: events.slice(0, 3) });
    assert.equal(three.status, 200);
    assert.equal(three.body.accepted, 3);
  });
});

forEachDatabase('ingest rate limit per API key', { env: { INGEST_RATE_LIMIT: '3', INGEST_RATE_WINDOW_MS: '60000' } }, (t) => {
  it('answers 429 RATE_LIMITED with Retry-After past the limit, per key, across the ingest routes only', async () => {
    const producer = bearer(await t.key('events'));
    const other = bearer(await t.key('events'));
    const before = await storedEvents(t);

    const first = await t.http.post('/api/v1/events').set(producer).send({ event: 'dids.create', object_id: 1 }).expect(202);
    // The counts of the window so far, as @nestjs/throttler's guard answers them.
    assert.equal(first.headers['x-ratelimit-limit'], '3');
    assert.equal(first.headers['x-ratelimit-remaining'], '2');
    const reset = Number(first.headers['x-ratelimit-reset']);
    assert.ok(reset >= 1 && reset <= 60, `X-RateLimit-Reset: ${first.headers['x-ratelimit-reset']}`);
    await t.http.post('/api/v1/events/batch').set(producer).send({ events: [{ event: 'dids.create', object_id: 2 }] }).expect(200);
    await t.http
      .post('/api/v1/sources/did/changes')
      .set(producer)
      .send({ op: 'create', after: { id: 3, did: '4420711122233', status: 'in_stock' } })
      .expect(202);
    const limited = await t.http.post('/api/v1/events').set(producer).send({ event: 'dids.create', object_id: 4 });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    assert.match(limited.body.message, /INGEST_RATE_LIMIT/);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${limited.headers['retry-after']}`);
    const stored = await storedEvents(t);

    // Another key has its own allowance; reading is never limited.
    await t.http.post('/api/v1/events').set(other).send({ event: 'dids.create', object_id: 5 }).expect(202);
    const read = await t.http.get('/api/v1/handlers').set(bearer(t.adminKey)).expect(200);
    assert.equal(read.headers['x-ratelimit-limit'], undefined, 'reads are not counted');
    const batchLimited = await t.http.post('/api/v1/events/batch').set(producer).send({ events: [{ event: 'dids.create', object_id: 6 }] });
    assert.equal(batchLimited.status, 429);
    assert.equal(await storedEvents(t), stored + 1, 'the limited requests stored nothing');
    assert.equal(stored, before + 3, 'one event each from the single post, the batch and the source change');
  });
});
