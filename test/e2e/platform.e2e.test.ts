import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { EVENT_CATALOG, OPERATIONAL_EVENTS } from '../../src/events/event-catalog.js';

forEachDatabase('platform: health, docs, catalog, keys', {}, (t) => {
  it('answers liveness and readiness without a key', async () => {
    const live = await t.http.get('/health');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { status: 'ok' });
    const ready = await t.http.get('/health/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ok', database: 'ok', migrations: 'ok' });
  });

  it('serves Swagger UI and a valid OpenAPI 3 document covering every route and the auth scheme', async () => {
    const ui = await t.http.get('/docs');
    assert.equal(ui.status, 200);
    assert.match(ui.text, /swagger/i);
    const json = await t.http.get('/docs-json');
    assert.equal(json.status, 200);
    const doc = json.body;
    assert.match(doc.openapi, /^3\./);
    await SwaggerParser.validate(structuredClone(doc));
    const paths = Object.keys(doc.paths);
    for (const path of [
      '/api/v1/handlers',
      '/api/v1/handlers/{id}',
      '/api/v1/handlers/{id}/toggle',
      '/api/v1/event-types',
      '/api/v1/event-types/{id}',
      '/api/v1/cache',
      '/api/v1/cache/refresh',
      '/api/v1/api-keys',
      '/api/v1/api-keys/{id}',
      '/health',
      '/health/ready',
    ]) {
      assert.ok(paths.includes(path), `missing ${path}`);
    }
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    const create = doc.paths['/api/v1/handlers'].post;
    assert.ok(create.security?.length, 'handler creation must document its auth');
    assert.ok(create.responses['400'] && create.responses['401'] && create.responses['403'], 'errors documented');
    assert.ok(doc.components.schemas.ErrorResponseDto.properties.code);
    // The committed document (npm run openapi) must match what the app serves.
    const committed = JSON.parse(readFileSync('docs/openapi.json', 'utf8'));
    assert.deepEqual(doc, committed, 'docs/openapi.json is stale: run npm run openapi');
  });

  it('lists the catalog grouped, each event with a description and a sample envelope', async () => {
    const key = bearer(await t.key('events'));
    const response = await t.http.get('/api/v1/event-types').set(key);
    assert.equal(response.status, 200);
    const ids = response.body.groups.flatMap((g: { events: { id: string }[] }) => g.events.map((e) => e.id));
    assert.deepEqual(ids, [...EVENT_CATALOG, ...OPERATIONAL_EVENTS].map((e) => e.id));
    assert.equal(response.body.total, ids.length);
    const update = response.body.groups[0].events.find((e: { id: string }) => e.id === 'clients.update');
    assert.equal(response.body.groups[0].name, 'Clients');
    assert.equal(typeof update.description, 'string');
    assert.deepEqual(Object.keys(update.sample).sort(), ['data', 'event']);
    assert.equal(update.sample.event.events_id, 'clients.update');
    assert.match(update.sample.event.dt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    assert.equal(update.sample.event.object_id, update.sample.data.id);

    const one = await t.http.get('/api/v1/event-types/dids.block').set(key);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, 'dids.block');
    const unknown = await t.http.get('/api/v1/event-types/dids.explode').set(key);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'EVENT_TYPE_NOT_FOUND');
    assert.equal((await t.http.get('/api/v1/event-types')).status, 401);
  });

  it('creates keys shown once, lists them without secrets, and revokes them', async () => {
    const admin = bearer(t.adminKey);
    const created = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'core', scopes: ['events', 'read'] });
    assert.equal(created.status, 201);
    assert.match(created.body.key, /^pk_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(created.body.scopes, ['events', 'read']);
    const listed = await t.http.get('/api/v1/api-keys').set(admin);
    assert.equal(listed.status, 200);
    const text = JSON.stringify(listed.body);
    assert.ok(!text.includes(created.body.key), 'a key appeared in the list');
    assert.ok(!text.includes(t.adminKey), 'the admin key appeared in the list');
    const row = listed.body.find((k: { id: number }) => k.id === created.body.id);
    assert.equal(row.key_prefix, created.body.key.slice(0, 10));
    assert.equal(row.revoked_at, null);

    const bad = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'x', scopes: ['root'] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'VALIDATION_FAILED');
    assert.equal(bad.body.details[0].field, 'scopes');
    const readOnly = await t.http.post('/api/v1/api-keys').set(bearer(created.body.key)).send({ name: 'x', scopes: ['admin'] });
    assert.equal(readOnly.status, 403);

    const revoked = await t.http.delete(`/api/v1/api-keys/${created.body.id}`).set(admin);
    assert.equal(revoked.status, 204);
    const keys = (await t.http.get('/api/v1/api-keys').set(admin)).body as { id: number; revoked_at: string | null }[];
    assert.notEqual(keys.find((key) => key.id === created.body.id)?.revoked_at ?? null, null);
    assert.equal((await t.http.get('/api/v1/event-types').set(bearer(created.body.key))).status, 401);
    const missing = await t.http.delete('/api/v1/api-keys/987654').set(admin);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'API_KEY_NOT_FOUND');
  });
});
