import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, countRows } from '../utils/test-app.js';
import { createHandler, handlerBody } from '../factories/handler.factory.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `head` (and `body`) as written, byte for byte: no client library normalises the URL or headers. */
function raw(url: string, head: string, body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => (chunks.length > 0 ? undefined : reject(error)));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [top, ...rest] = text.split('\r\n\r\n');
      const lines = (top ?? '').split('\r\n');
      const status = Number(lines[0]?.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(`${head}\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n${body}`);
  });
}

/** The one error shape, exactly: {statusCode, code, message, details: [{field, message}]}. */
function assertErrorShape(body: unknown, status: number, code: string): { field: string; message: string }[] {
  const error = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'details', 'message', 'statusCode'], JSON.stringify(body));
  assert.equal(error.statusCode, status, JSON.stringify(body));
  assert.equal(error.code, code, JSON.stringify(body));
  assert.equal(typeof error.message, 'string');
  assert.ok(Array.isArray(error.details));
  for (const detail of error.details as object[]) {
    assert.deepEqual(Object.keys(detail).sort(), ['field', 'message']);
  }
  return error.details as { field: string; message: string }[];
}

function assertRefused(res: { status: number; body: unknown }, status: number, code: string, field?: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const details = assertErrorShape(res.body, status, code);
  if (field !== undefined) assert.deepEqual([...new Set(details.map((d) => d.field))], [field], JSON.stringify(res.body));
}

/** `[[[…]]]` nested `levels` deep. */
const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

// An API-only instance: events are stored but never delivered, so nothing but the requests changes state.
forEachDatabase('hostile input', { env: { INGEST_RATE_LIMIT: '0', INSTANCE_ROLE: 'api' } }, (t) => {
  let admin: Record<string, string>;

  before(async () => {
    admin = bearer(t.adminKey);
  });

  const count = (table: string) => countRows(t, table);
  const didsHandler = (overrides: Record<string, unknown> = {}) => createHandler(t, { event: 'dids.create', ...overrides }, admin);
  const postJson = (path: string, text: string) => t.http.post(path).set(admin).set('Content-Type', 'application/json').send(text);

  describe('ids', () => {
    it('refuses every id that is not plain decimal digits in range, on every route, and changes nothing', async () => {
      const handler = await didsHandler();
      const id = handler.id;
      const disguised = [`0x${id.toString(16)}`, `${id}e0`, `+${id}`, `%20${id}`, `${id}%20`, `0${id}`, `${id}.0`, `${id}.5`, `-${id}`];
      const malformed = ['0', '-1', '1.5', '0x1', '1e0', '+1', '%201', '1%20', '12345678901234567890', '9007199254740992', 'abc', '1'.repeat(100)];
      const before = await t.http.get(`/api/v1/handlers/${id}`).set(admin);
      for (const bad of [...disguised, ...malformed]) {
        const routes: [string, string, unknown?][] = [
          ['GET', `/api/v1/handlers/${bad}`],
          ['PATCH', `/api/v1/handlers/${bad}`, { name: 'changed' }],
          ['DELETE', `/api/v1/handlers/${bad}`],
          ['POST', `/api/v1/handlers/${bad}/toggle`],
          ['GET', `/api/v1/handlers/${bad}/secret`],
          ['POST', `/api/v1/handlers/${bad}/rotate-secret`],
          ['POST', `/api/v1/handlers/${bad}/test`, {}],
          ['GET', `/api/v1/handlers/${bad}/execution-logs`],
          ['POST', `/api/v1/handlers/${bad}/deliveries/retry`, { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }],
          ['GET', `/api/v1/execution-logs/${bad}`],
          ['POST', `/api/v1/deliveries/${bad}/retry`],
          ['GET', `/api/v1/events/${bad}`],
          ['DELETE', `/api/v1/api-keys/${bad}`],
        ];
        for (const [method, path, body] of routes) {
          let req = t.http[method.toLowerCase() as 'get'](path).set(admin);
          if (body !== undefined) req = req.send(body as object);
          assertRefused(await req, 400, 'VALIDATION_FAILED', 'id');
        }
      }
      const afterwards = await t.http.get(`/api/v1/handlers/${id}`).set(admin);
      assert.deepEqual(afterwards.body, before.body);
      const secret = (await t.http.get(`/api/v1/handlers/${id}/secret`).set(admin)).body;
      assert.equal(secret.previous_secret, null, 'no rotation happened');
    });

    it('accepts the largest safe integer as an id (and finds nothing there)', async () => {
      assertRefused(await t.http.get('/api/v1/handlers/9007199254740991').set(admin), 404, 'HANDLER_NOT_FOUND');
      assertRefused(await t.http.get('/api/v1/events/9007199254740991').set(admin), 404, 'EVENT_NOT_FOUND');
    });

    it('never revokes a key through a disguised id', async () => {
      const created = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'victim', scopes: ['read'] });
      assert.equal(created.status, 201);
      for (const bad of [`0x${created.body.id.toString(16)}`, `${created.body.id}e0`, `+${created.body.id}`]) {
        assertRefused(await t.http.delete(`/api/v1/api-keys/${bad}`).set(admin), 400, 'VALIDATION_FAILED', 'id');
      }
      assert.equal((await t.http.get('/api/v1/event-types').set(bearer(created.body.key))).status, 200);
      // The admin key (id 1) too.
      assertRefused(await t.http.delete('/api/v1/api-keys/0x1').set(admin), 400, 'VALIDATION_FAILED', 'id');
      assert.equal((await t.http.get('/api/v1/api-keys').set(admin)).status, 200);
    });

    it('applies the same rule to numeric query parameters, with one message naming the field', async () => {
      const bad = ['0x1', '1e0', '+1', '%201', '1.5', '0', '-1', '01', '99999999999999999999', 'x'.repeat(200)];
      for (const value of bad) {
        for (const [path, field] of [
          [`/api/v1/execution-logs?handler_id=${value}`, 'handler_id'],
          [`/api/v1/execution-logs?event_id=${value}`, 'event_id'],
          [`/api/v1/execution-logs?page=${value}`, 'page'],
          [`/api/v1/execution-logs?per_page=${value}`, 'per_page'],
          [`/api/v1/handlers?page=${value}`, 'page'],
          [`/api/v1/handlers?per_page=${value}`, 'per_page'],
        ] as const) {
          const res = await t.http.get(path).set(admin);
          assertRefused(res, 400, 'VALIDATION_FAILED', field);
          assert.equal(res.body.details.length, 1, JSON.stringify(res.body));
        }
      }
      const fine = await t.http.get('/api/v1/execution-logs?handler_id=9007199254740991&page=2&per_page=500').set(admin);
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
      assert.equal(fine.body.page, 2);
      assert.equal(fine.body.per_page, 500);
    });
  });

  describe('paging bounds', () => {
    it('refuses huge page numbers with VALIDATION_FAILED naming page, and serves the largest allowed page', async () => {
      for (const path of ['/api/v1/handlers', '/api/v1/execution-logs']) {
        for (const page of ['99999999999999999999', '1e18', '1000001', '9007199254740991']) {
          assertRefused(await t.http.get(`${path}?page=${page}`).set(admin), 400, 'VALIDATION_FAILED', 'page');
        }
        assertRefused(await t.http.get(`${path}?per_page=501`).set(admin), 400, 'VALIDATION_FAILED', 'per_page');
        const last = await t.http.get(`${path}?page=1000000&per_page=500`).set(admin);
        assert.equal(last.status, 200, JSON.stringify(last.body));
        assert.deepEqual(last.body.items, []);
      }
    });
  });

  describe('deep JSON', () => {
    it('refuses bodies nested 10,000 levels with JSON_TOO_DEEP on every body route, storing nothing', async () => {
      const handler = await didsHandler();
      const deep = nested(10_000);
      const handlersBefore = await count('handlers');
      const eventsBefore = await count('events');
      const cases: [string, string, string][] = [
        ['POST', '/api/v1/handlers', `{"name":${deep}}`],
        ['PATCH', `/api/v1/handlers/${handler.id}`, `{"name":${deep}}`],
        ['POST', '/api/v1/events', `{"event":"clients.update","object_id":1,"data":{"x":${deep}}}`],
        ['POST', '/api/v1/events/batch', `{"events":[{"event":"clients.update","object_id":1,"data":{"x":${deep}}}]}`],
        ['POST', '/api/v1/events/decide', `{"event":"clients.update","object_id":1,"data":{"x":${deep}}}`],
        ['POST', '/api/v1/sources/client/changes', `{"op":"update","before":{"id":1},"after":{"id":1,"x":${deep}}}`],
        ['POST', '/api/v1/api-keys', `{"name":${deep},"scopes":["read"]}`],
      ];
      for (const [method, path, body] of cases) {
        const res = await t.http[method.toLowerCase() as 'post'](path).set(admin).set('Content-Type', 'application/json').send(body);
        assertRefused(res, 400, 'JSON_TOO_DEEP', 'body');
        assert.match(res.body.message, new RegExp(`${t.config.http.maxJsonDepth} levels`));
      }
      assert.equal(await count('handlers'), handlersBefore);
      assert.equal(await count('events'), eventsBefore);
      assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin)).body.name, handler.name);
    });

    it('takes exactly MAX_JSON_DEPTH levels and refuses one more; brackets inside strings do not count', async () => {
      const max = t.config.http.maxJsonDepth;
      // The body object and data are two levels; the rest are arrays.
      const body = (levels: number) => `{"event":"clients.update","object_id":7,"data":{"id":7,"x_nested":${nested(levels - 2)}}}`;
      const atLimit = await postJson('/api/v1/events', body(max));
      assert.equal(atLimit.status, 202, JSON.stringify(atLimit.body));
      assertRefused(await postJson('/api/v1/events', body(max + 1)), 400, 'JSON_TOO_DEEP', 'body');

      const inText = await postJson('/api/v1/handlers', JSON.stringify(handlerBody({ event: 'dids.create', name: `"[{\\${'['.repeat(150)}` })));
      assert.equal(inText.status, 201, JSON.stringify(inText.body));
      assert.equal(inText.body.name, `"[{\\${'['.repeat(150)}`);
    });
  });

  describe('errors from the router and the HTTP parser', () => {
    it('answers a malformed percent escape with MALFORMED_URL', async () => {
      const res = await raw(t.url, `GET /api/v1/handlers/%ZZ HTTP/1.1\r\nAuthorization: Bearer ${t.adminKey}`);
      assert.equal(res.status, 400);
      assertErrorShape(JSON.parse(res.body), 400, 'MALFORMED_URL');
      assert.match(res.headers['content-type'] ?? '', /application\/json/);
      assert.ok(res.headers['x-request-id'], 'the request id is returned too');
    });

    it('answers a path parameter over 100 characters with URI_TOO_LONG', async () => {
      const res = await raw(t.url, `GET /api/v1/handlers/${'1'.repeat(101)} HTTP/1.1\r\nAuthorization: Bearer ${t.adminKey}`);
      assert.equal(res.status, 414);
      assertErrorShape(JSON.parse(res.body), 414, 'URI_TOO_LONG');
      const longDelete = await raw(t.url, `DELETE /api/v1/api-keys/${'1'.repeat(200)} HTTP/1.1\r\nAuthorization: Bearer ${t.adminKey}`);
      assert.equal(longDelete.status, 414);
    });

    it('answers request headers over 16 KB with HEADERS_TOO_LARGE and a JSON body', async () => {
      const res = await raw(t.url, `GET /api/v1/handlers HTTP/1.1\r\nAuthorization: Bearer ${t.adminKey}\r\nX-Filler: ${'a'.repeat(17 * 1024)}`);
      assert.equal(res.status, 431);
      assert.match(res.headers['content-type'] ?? '', /application\/json/);
      assertErrorShape(JSON.parse(res.body), 431, 'HEADERS_TOO_LARGE');
    });

    it('answers bytes that are not HTTP with MALFORMED_REQUEST in the error shape', async () => {
      const res = await raw(t.url, 'GET /api/v1/handlers HTTP/1.1\r\nBad Header Name: x');
      assert.equal(res.status, 400);
      assertErrorShape(JSON.parse(res.body), 400, 'MALFORMED_REQUEST');
    });
  });

  describe('media types', () => {
    it('refuses a form-encoded PATCH with UNSUPPORTED_MEDIA_TYPE and leaves the handler as it was', async () => {
      const handler = await didsHandler();
      const res = await t.http.patch(`/api/v1/handlers/${handler.id}`).set(admin).type('form').send('name=changed&status=disabled');
      assertRefused(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const now = (await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin)).body;
      assert.equal(now.name, handler.name);
      assert.equal(now.status, 'enabled');
    });

    it('takes JSON only on every body route', async () => {
      const eventsBefore = await count('events');
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        const res = await t.http.post('/api/v1/events').set(admin).set('Content-Type', type).send('{"event":"clients.update","object_id":1}');
        assertRefused(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
        const key = await t.http.post('/api/v1/api-keys').set(admin).set('Content-Type', type).send('name=x&scopes=read');
        assertRefused(key, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
      assert.equal(await count('events'), eventsBefore);
      const charset = await t.http.post('/api/v1/events').set(admin).set('Content-Type', 'application/json; charset=utf-8').send('{"event":"clients.update","object_id":1}');
      assert.equal(charset.status, 202, JSON.stringify(charset.body));
    });
  });

  describe('prototype keys', () => {
    const refusedAsUnknown = (res: { status: number; body: { details: { field: string; message: string }[] } }, key: string) => {
      assertRefused(res, 400, 'VALIDATION_FAILED');
      assert.ok(
        res.body.details.some((d) => d.field === key && d.message === `property ${key} should not exist`),
        JSON.stringify(res.body),
      );
    };

    it('refuses constructor, __proto__ and prototype like any unknown field on every body, and nothing reaches a prototype', async () => {
      const handler = await didsHandler();
      const handlersBefore = await count('handlers');
      const eventsBefore = await count('events');
      const keysBefore = await count('api_keys');
      for (const key of ['constructor', '__proto__', 'prototype', 'unknown_field']) {
        const extra = `"${key}":{"polluted":true}`;
        const valid = JSON.stringify(handlerBody({ event: 'dids.create' })).slice(1, -1);
        refusedAsUnknown(await postJson('/api/v1/handlers', `{${valid},${extra}}`), key);
        refusedAsUnknown(await t.http.patch(`/api/v1/handlers/${handler.id}`).set(admin).set('Content-Type', 'application/json').send(`{"name":"changed",${extra}}`), key);
        refusedAsUnknown(await postJson('/api/v1/api-keys', `{"name":"k","scopes":["read"],${extra}}`), key);
        // A plainly valid event takes the fast path of src/events/event-validation.ts.
        refusedAsUnknown(await postJson('/api/v1/events', `{"event":"clients.update","object_id":1,${extra}}`), key);
        refusedAsUnknown(await postJson('/api/v1/events/decide', `{"event":"clients.update","object_id":1,${extra}}`), key);
        refusedAsUnknown(await postJson(`/api/v1/handlers/${handler.id}/deliveries/retry`, `{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z",${extra}}`), key);
        refusedAsUnknown(await postJson('/api/v1/sources/client/changes', `{"op":"update","before":{"id":1},"after":{"id":1,"name":"x"},${extra}}`), key);

        const batch = await postJson('/api/v1/events/batch', `{"events":[{"event":"clients.update","object_id":1,${extra}}]}`);
        if (key === '__proto__') {
          refusedAsUnknown(batch, 'events.0.__proto__');
        } else {
          assert.equal(batch.status, 200, JSON.stringify(batch.body));
          assert.equal(batch.body.items[0].status, 'rejected');
          assert.equal(batch.body.items[0].error.code, 'VALIDATION_FAILED');
          assert.deepEqual(batch.body.items[0].error.details.map((d: { field: string }) => d.field), [key]);
        }

        const query = await t.http.get(`/api/v1/handlers?${key}=1`).set(admin);
        refusedAsUnknown(query, key);
      }
      // Inside free-form data, __proto__ is refused wherever it is; other keys are data.
      refusedAsUnknown(await postJson('/api/v1/events', '{"event":"clients.update","object_id":1,"data":{"__proto__":{"polluted":true}}}'), 'data.__proto__');
      refusedAsUnknown(await postJson('/api/v1/events', '{"event":"clients.update","object_id":1,"data":{"a":[{"\\u005f_proto__":{"polluted":true}}]}}'), 'data.a.0.__proto__');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(await count('handlers'), handlersBefore);
      assert.equal(await count('events'), eventsBefore);
      assert.equal(await count('api_keys'), keysBefore);
      assert.equal((await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin)).body.name, handler.name);
    });

    it('refuses those keys in nested objects of a validated body instead of dropping them', async () => {
      for (const key of ['constructor', 'prototype']) {
        const body = JSON.stringify(handlerBody({ event: 'dids.create' })).slice(0, -1) + `,"headers":{"X-Tenant":"north","${key}":"x"}}`;
        refusedAsUnknown(await postJson('/api/v1/handlers', body), `headers.${key}`);
      }
    });

    it('keeps constructor and prototype keys inside event data as sent, on the fast and the slow path', async () => {
      const data = '{"id":5,"constructor":{"prototype":1},"prototype":"p"}';
      // A control character in the key is valid but not "plainly" valid: class-validator judges that event.
      for (const extra of ['', ',"idempotency_key":"slow\\u0001path"']) {
        const accepted = await postJson('/api/v1/events', `{"event":"clients.update","object_id":5,"data":${data}${extra}}`);
        assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
        const stored = await t.http.get(`/api/v1/events/${accepted.body.id}`).set(admin);
        assert.deepEqual(stored.body.data, JSON.parse(data));
      }
    });
  });

  describe('dates', () => {
    it('refuses event dates that do not exist in the calendar, on events, batches and source changes', async () => {
      const eventsBefore = await count('events');
      for (const dt of [
        '2026-02-30T10:00:00+00:00',
        '2026-02-29T10:00:00+00:00',
        '2026-04-31T10:00:00Z',
        '2026-13-01T10:00:00Z',
        '2026-00-10T10:00:00Z',
        '2026-01-00T10:00:00Z',
        '2026-02-28T24:00:00+00:00',
        '2026-02-28T10:60:00+00:00',
        '2026-02-28T10:00:60+00:00',
        '2026-02-28T10:00:00+24:00',
        '2026-02-28T10:00:00+01:60',
      ]) {
        assertRefused(await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.update', object_id: 1, dt }), 400, 'VALIDATION_FAILED', 'dt');
        const batch = await t.http.post('/api/v1/events/batch').set(admin).send({ events: [{ event: 'clients.update', object_id: 1, dt }] });
        assert.equal(batch.body.items[0].status, 'rejected', dt);
        assertRefused(
          await t.http.post('/api/v1/sources/client/changes').set(admin).send({ op: 'update', before: { id: 1, name: 'a' }, after: { id: 1, name: 'b' }, dt }),
          400,
          'VALIDATION_FAILED',
          'dt',
        );
      }
      assert.equal(await count('events'), eventsBefore);
      const leap = await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.update', object_id: 1, dt: '2024-02-29T23:59:59.5+14:00' });
      assert.equal(leap.status, 202, JSON.stringify(leap.body));
      assert.equal(leap.body.dt, '2024-02-29T23:59:59.5+14:00');
    });

    it('refuses impossible from/to in log queries and retry ranges', async () => {
      const handler = await didsHandler();
      for (const [field, value] of [
        ['from', '2026-02-30T00:00:00Z'],
        ['to', '2026-02-28T24:00:00Z'],
        ['from', '2026-13-01'],
        ['to', '2026-06-31'],
        ['from', 'yesterday'],
        // ISO 8601 forms that Date.parse cannot read (NaN), which the old check let through.
        ['from', '2026-W09-7'],
        ['to', '2026-060'],
        ['from', '2026-02-28T23:59:59,5Z'],
      ] as const) {
        assertRefused(await t.http.get(`/api/v1/execution-logs?${field}=${encodeURIComponent(value)}`).set(admin), 400, 'VALIDATION_FAILED', field);
        assertRefused(await t.http.get(`/api/v1/handlers/${handler.id}/execution-logs?${field}=${encodeURIComponent(value)}`).set(admin), 400, 'VALIDATION_FAILED', field);
        const range = { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', [field]: value };
        assertRefused(await t.http.post(`/api/v1/handlers/${handler.id}/deliveries/retry`).set(admin).send(range), 400, 'VALIDATION_FAILED', field);
      }
      const fine = await t.http.get(`/api/v1/execution-logs?from=2024-02-29&to=${encodeURIComponent('2026-02-28T23:59:59.999Z')}`).set(admin);
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
    });
  });

  describe('bodies', () => {
    it('takes an empty body sent as application/json on routes that need none', async () => {
      const handler = await didsHandler();
      const json = { 'Content-Type': 'application/json' };
      const toggled = await t.http.post(`/api/v1/handlers/${handler.id}/toggle`).set(admin).set(json);
      assert.equal(toggled.status, 200, JSON.stringify(toggled.body));
      assert.equal(toggled.body.status, 'disabled');
      const refreshed = await t.http.post('/api/v1/cache/refresh').set(admin).set(json);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assertRefused(await t.http.post('/api/v1/deliveries/987654/retry').set(admin).set(json), 404, 'DELIVERY_NOT_FOUND');
      const rotated = await t.http.post(`/api/v1/handlers/${handler.id}/rotate-secret`).set(admin).set(json);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const key = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'short-lived', scopes: ['read'] });
      const revoked = await t.http.delete(`/api/v1/api-keys/${key.body.id}`).set(admin).set(json);
      assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
      const deleted = await t.http.delete(`/api/v1/handlers/${handler.id}`).set(admin).set(json);
      assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
      assertRefused(await t.http.get(`/api/v1/handlers/${handler.id}`).set(admin), 404, 'HANDLER_NOT_FOUND');
    });

    it('says the body is missing on routes that need one', async () => {
      const handlersBefore = await count('handlers');
      const json = { 'Content-Type': 'application/json' };
      for (const path of ['/api/v1/handlers', '/api/v1/api-keys', '/api/v1/events', '/api/v1/events/batch', '/api/v1/events/decide']) {
        const res = await t.http.post(path).set(admin).set(json);
        assertRefused(res, 400, 'VALIDATION_FAILED', 'body');
      }
      assert.equal(await count('handlers'), handlersBefore);
      // A JSON value that is not an object is refused the same way.
      for (const text of ['null', '[]', '"x"', '12']) {
        assertRefused(await postJson('/api/v1/handlers', text), 400, 'VALIDATION_FAILED', 'body');
      }
    });

    it('still refuses text that is not JSON with MALFORMED_JSON', async () => {
      assertRefused(await postJson('/api/v1/handlers', '{"name":'), 400, 'MALFORMED_JSON');
      assertRefused(await postJson('/api/v1/events', ' '), 400, 'MALFORMED_JSON');
    });
  });

  describe('messages', () => {
    it('answers one message for a wrong type of object_id or priority', async () => {
      const event = await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.update', object_id: '12' });
      assertRefused(event, 400, 'VALIDATION_FAILED', 'object_id');
      assert.equal(event.body.details.length, 1, JSON.stringify(event.body));
      assert.match(event.body.details[0].message, /object_id must be a whole number from 1 to 9007199254740991/);
      for (const priority of ['5', 1.5, 0, 2_000_000]) {
        const handler = await t.http.post('/api/v1/handlers').set(admin).send(handlerBody({ priority }));
        assertRefused(handler, 400, 'VALIDATION_FAILED', 'priority');
        assert.equal(handler.body.details.length, 1, JSON.stringify(handler.body));
      }
    });

    it('lists the status choices without a trailing comma', async () => {
      const res = await t.http.get('/api/v1/handlers?status=bogus').set(admin);
      assertRefused(res, 400, 'VALIDATION_FAILED', 'status');
      assert.doesNotMatch(res.body.details[0].message, /,\s*$/);
      assert.match(res.body.details[0].message, /enabled, disabled, archived/);
    });

    it('answers 204 with no body when deleting an API key, like deleting a handler', async () => {
      const key = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'gone', scopes: ['read'] });
      const revoked = await t.http.delete(`/api/v1/api-keys/${key.body.id}`).set(admin);
      assert.equal(revoked.status, 204);
      assert.equal(revoked.text, '');
      assert.equal((await t.http.get('/api/v1/event-types').set(bearer(key.body.key))).status, 401);
      const listed = (await t.http.get('/api/v1/api-keys').set(admin)).body as { id: number; revoked_at: string | null }[];
      assert.notEqual(listed.find((k) => k.id === key.body.id)?.revoked_at ?? null, null);
    });
  });
});
