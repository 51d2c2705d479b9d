import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import type { DatabaseKind, TestDatabase } from '../utils/databases.js';
import { describeApp, testDatabaseKinds } from '../utils/suite.js';
import { clientRecord } from '../factories/event.factory.js';
import { bearer, countRows } from '../utils/test-app.js';

/**
 * Idempotency keys compare byte for byte on every database and whatever the database's
 * collation (issue #12 item 4); a key reused with a different request is refused with 409
 * (item 5); 20 custom headers of the longest allowed value fit (item 6); source changes obey
 * MAX_DATA_BYTES (item 7).
 *
 * On MySQL/MariaDB it runs twice: on the test databases' utf8mb4_unicode_ci and on
 * utf8mb4_general_ci, which `CREATE DATABASE … CHARACTER SET utf8mb4` (the README's command)
 * gives on MariaDB.
 */
const MAX_DATA_BYTES = 2048;

interface Variant {
  kind: DatabaseKind;
  label: string;
  /** The collation the database is switched to before the app creates its tables. */
  collation?: string;
}

const variants: Variant[] = testDatabaseKinds().flatMap((kind): Variant[] =>
  kind.name === 'sqlite'
    ? [{ kind, label: 'sqlite' }]
    : [
        { kind, label: 'mysql utf8mb4_unicode_ci', collation: 'utf8mb4_unicode_ci' },
        { kind, label: 'mysql utf8mb4_general_ci', collation: 'utf8mb4_general_ci' },
      ],
);

async function setDatabaseCollation(url: string, collation: string): Promise<void> {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  target.protocol = 'mysql:';
  const connection = await createConnection({ uri: target.toString() });
  try {
    await connection.query(`ALTER DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE ${collation}`);
  } finally {
    await connection.end();
  }
}

for (const variant of variants) {
  const options = {
    label: variant.label,
    prepare: (db: TestDatabase) => (variant.collation ? setDatabaseCollation(db.url, variant.collation) : undefined),
    env: { MAX_DATA_BYTES: String(MAX_DATA_BYTES), INGEST_RATE_LIMIT: '0' },
  };
  describeApp('idempotency keys and stored sizes', variant.kind, options, (t) => {
    let admin: Record<string, string>;
    let objectId = 1000;

    before(async () => {
      admin = bearer(t.adminKey);
    });

    const query = (sql: string, params: unknown[] = []) => t.app.get(DataSource).query(sql, params);
    const storedEvents = () => countRows(t, 'events');
    const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      t.http.post('/api/v1/events').set(admin).set(headers).send(body);
    const event = (overrides: Record<string, unknown> = {}) => {
      const id = ++objectId;
      return { event: 'clients.update', object_id: id, data: { id, name: `client ${id}` }, ...overrides };
    };
    const assertError = (response: { status: number; body: Record<string, unknown> }, status: number, code: string, field: string) => {
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.deepEqual(Object.keys(response.body).sort(), ['code', 'details', 'message', 'statusCode']);
      assert.equal(response.body.statusCode, status);
      assert.equal(response.body.code, code);
      assert.ok((response.body.details as { field: string }[]).some((detail) => detail.field === field), JSON.stringify(response.body.details));
    };

    if (variant.collation) {
      it(`the database really uses ${variant.collation}, and the key column compares bytes`, async () => {
        const [table] = await query(
          "SELECT TABLE_COLLATION AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events'",
        );
        assert.equal(table.c, variant.collation);
        const [column] = await query(
          "SELECT COLLATION_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'events' AND COLUMN_NAME = 'idempotency_key'",
        );
        assert.match(String(column.c), /^utf8mb4_(0900|nopad)_bin$/);
      });
    }

    it('keys differing only in case, trailing space or accent are different keys (single posts)', async () => {
      for (const [first, second] of [
        ['FzKey-1', 'fzkey-1'],
        ['k', 'k '],
        ['café', 'cafe'],
      ]) {
        const a = await post(event({ idempotency_key: first }));
        const b = await post(event({ idempotency_key: second }));
        assert.equal(a.status, 202, JSON.stringify(a.body));
        assert.equal(b.status, 202, JSON.stringify(b.body));
        assert.notEqual(a.body.id, b.body.id);
        assert.equal(b.body.replayed, false);
        assert.equal(b.body.idempotency_key, second);
      }
      const [row] = await query('SELECT idempotency_key AS k FROM events WHERE idempotency_key = ?', ['k ']);
      assert.equal(row.k, 'k ', 'the trailing space is kept');
    });

    it('a batch holding keys that differ only in case or trailing space accepts them all', async () => {
      const items = [event({ idempotency_key: 'BatchKey' }), event({ idempotency_key: 'batchkey' }), event({ idempotency_key: 'b' }), event({ idempotency_key: 'b ' })];
      const response = await t.http.post('/api/v1/events/batch').set(admin).send({ events: items });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.deepEqual(
        response.body.items.map((item: { status: string }) => item.status),
        ['accepted', 'accepted', 'accepted', 'accepted'],
      );
      assert.equal(new Set(response.body.items.map((item: { event: { id: number } }) => item.event.id)).size, 4);
    });

    it('an identical repeat replays the first event, whether the key comes in the body or the header', async () => {
      const body = { ...event(), dt: '2026-11-22T10:15:30+00:00' };
      const first = await post({ ...body, idempotency_key: 'same-1' });
      assert.equal(first.status, 202);
      const count = await storedEvents();
      const repeat = await post({ ...body, idempotency_key: 'same-1' });
      const viaHeader = await post(body, { 'Idempotency-Key': 'same-1' });
      // Whitespace and the order of the top-level fields are not part of the request.
      const spaced = await t.http
        .post('/api/v1/events')
        .set(admin)
        .set('Content-Type', 'application/json')
        .send(`{ "idempotency_key": "same-1", "data": ${JSON.stringify(body.data, null, 2)}, "object_id": ${body.object_id}, "event": "clients.update", "dt": "${body.dt}" }`);
      for (const answer of [repeat, viaHeader, spaced]) {
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        assert.equal(answer.body.id, first.body.id);
        assert.equal(answer.body.replayed, true);
      }
      // Without dt twice: the same request, though the server's clock fills dt in each time.
      const undated = event();
      const once = await post({ ...undated, idempotency_key: 'same-2' });
      const twice = await post({ ...undated, idempotency_key: 'same-2' });
      assert.equal(twice.status, 202);
      assert.equal(twice.body.id, once.body.id);
      assert.equal(await storedEvents(), count + 1);
    });

    it('a key reused with a different request is refused with 409 IDEMPOTENCY_KEY_REUSED and stores nothing', async () => {
      const body = { ...event(), dt: '2026-11-22T10:15:30+00:00' };
      const first = await post({ ...body, idempotency_key: 'reuse-1' });
      assert.equal(first.status, 202);
      const count = await storedEvents();
      const changes: [string, Record<string, unknown>][] = [
        ['data', { ...body, data: { ...body.data, name: 'changed' } }],
        ['object_id', { ...body, object_id: body.object_id + 1, data: { id: body.object_id + 1, name: body.data.name } }],
        ['event', { ...body, event: 'clients.create' }],
        ['dt', { ...body, dt: '2026-11-22T10:15:31+00:00' }],
        ['dt left out', { event: body.event, object_id: body.object_id, data: body.data }],
      ];
      for (const [what, changed] of changes) {
        const answer = await post({ ...changed, idempotency_key: 'reuse-1' });
        assertError(answer, 409, 'IDEMPOTENCY_KEY_REUSED', 'idempotency_key');
        assert.match(answer.body.message, /reuse-1/, what);
        const viaHeader = await post(changed, { 'Idempotency-Key': 'reuse-1' });
        assertError(viaHeader, 409, 'IDEMPOTENCY_KEY_REUSED', 'idempotency_key');
      }
      assert.equal(await storedEvents(), count);
      // The first request still replays.
      const again = await post({ ...body, idempotency_key: 'reuse-1' });
      assert.equal(again.body.id, first.body.id);
    });

    it('in a batch, an item reusing a key with a different request is rejected alone', async () => {
      const body = event();
      await post({ ...body, idempotency_key: 'reuse-batch' }).expect(202);
      const count = await storedEvents();
      const response = await t.http
        .post('/api/v1/events/batch')
        .set(admin)
        .send({
          events: [
            event({ idempotency_key: 'fresh-in-batch' }),
            { ...body, data: { ...body.data, name: 'other' }, idempotency_key: 'reuse-batch' },
            { ...body, idempotency_key: 'reuse-batch-2' },
          ],
        });
      assert.equal(response.status, 200);
      assert.deepEqual(
        response.body.items.map((item: { status: string; error?: { code: string } }) => item.error?.code ?? item.status),
        ['accepted', 'IDEMPOTENCY_KEY_REUSED', 'accepted'],
      );
      assert.equal(response.body.rejected, 1);
      assert.equal(await storedEvents(), count + 2);
      // The same batch again: the two accepted items replay, the reuse is still refused.
      const repeat = await t.http
        .post('/api/v1/events/batch')
        .set(admin)
        .send({ events: [{ ...body, idempotency_key: 'reuse-batch' }, { ...body, data: { ...body.data, name: 'x' }, idempotency_key: 'reuse-batch-2' }] });
      assert.deepEqual(
        repeat.body.items.map((item: { status: string; error?: { code: string } }) => item.error?.code ?? item.status),
        ['replayed', 'IDEMPOTENCY_KEY_REUSED'],
      );
      assert.equal(await storedEvents(), count + 2);
    });

    const client = clientRecord;

    it('a source change repeated under its key replays; a different change under it is refused and stores nothing', async () => {
      const change = { op: 'update', before: client({ name: 'A' }), after: client({ name: 'B', status: 'archive' }), idempotency_key: 'chg-reuse' };
      const first = await t.http.post('/api/v1/sources/client/changes').set(admin).send(change);
      assert.equal(first.status, 202, JSON.stringify(first.body));
      assert.equal(first.body.events.length, 2);
      const count = await storedEvents();
      const repeat = await t.http.post('/api/v1/sources/client/changes').set(admin).send(change);
      assert.deepEqual(
        repeat.body.events.map((e: { id: number; replayed: boolean }) => [e.id, e.replayed]),
        first.body.events.map((e: { id: number }) => [e.id, true]),
      );
      // A different change that would derive more events than the first: refused as a whole.
      const other = { ...change, after: client({ name: 'B', status: 'archive', balance: 0 }) };
      const refused = await t.http.post('/api/v1/sources/client/changes').set(admin).send(other);
      assertError(refused, 409, 'IDEMPOTENCY_KEY_REUSED', 'idempotency_key');
      const viaHeader = await t.http
        .post('/api/v1/sources/client/changes')
        .set(admin)
        .set('Idempotency-Key', 'chg-reuse')
        .send({ op: change.op, before: change.before, after: client({ name: 'C', status: 'archive' }) });
      assertError(viaHeader, 409, 'IDEMPOTENCY_KEY_REUSED', 'idempotency_key');
      assert.equal(await storedEvents(), count);
    });

    it('a source change obeys MAX_DATA_BYTES in before and after, as /events does, and stores nothing', async () => {
      const big = 'é'.repeat(MAX_DATA_BYTES / 2);
      const count = await storedEvents();
      const tooBigAfter = await t.http
        .post('/api/v1/sources/client/changes')
        .set(admin)
        .send({ op: 'update', before: client(), after: client({ custom_fields: { crm: big } }) });
      assertError(tooBigAfter, 413, 'DATA_TOO_LARGE', 'after');
      assert.match(tooBigAfter.body.message, new RegExp(`limit is ${MAX_DATA_BYTES} \\(MAX_DATA_BYTES\\)`));
      const tooBigBefore = await t.http
        .post('/api/v1/sources/client/changes')
        .set(admin)
        .send({ op: 'update', before: client({ custom_fields: { crm: big } }), after: client() });
      assertError(tooBigBefore, 413, 'DATA_TOO_LARGE', 'before');
      // /events refuses the same data with the same code.
      const direct = await post({ event: 'clients.update', object_id: 12, data: { id: 12, custom_fields: { crm: big } } });
      assertError(direct, 413, 'DATA_TOO_LARGE', 'data');
      assert.equal(await storedEvents(), count);
      const fits = await t.http
        .post('/api/v1/sources/client/changes')
        .set(admin)
        .send({ op: 'update', before: client(), after: client({ custom_fields: { crm: 'x'.repeat(MAX_DATA_BYTES / 2) } }) });
      assert.equal(fits.status, 202, JSON.stringify(fits.body));
    });

    it('stores 20 custom headers of 4,000 characters each and reads them back unchanged', async () => {
      const headers: Record<string, string> = {};
      // Characters JSON escapes or UTF-8 widens, so the stored text is as large as the rules allow.
      const value = (n: number) => `"\\é€${n}`.padEnd(4000, '\\"é€');
      for (let n = 1; n <= 20; n++) headers[`X-Custom-${String(n).padStart(2, '0')}`] = value(n);
      const created = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .send({ name: 'many headers', event: 'clients.update', type: 'http', task: '127.0.0.1:9/hook', headers });
      assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 500));
      const read = await t.http.get(`/api/v1/handlers/${created.body.id}`).set(admin).expect(200);
      assert.deepEqual(read.body.headers, headers);

      const tooMany = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .send({ name: 'too many', event: 'clients.update', type: 'http', task: '127.0.0.1:9/hook', headers: { ...headers, 'X-Custom-21': 'x' } });
      assertError(tooMany, 400, 'VALIDATION_FAILED', 'headers');
      const tooLong = await t.http
        .post('/api/v1/handlers')
        .set(admin)
        .send({ name: 'too long', event: 'clients.update', type: 'http', task: '127.0.0.1:9/hook', headers: { 'X-Long': 'x'.repeat(4001) } });
      assertError(tooLong, 400, 'VALIDATION_FAILED', 'headers.X-Long');
    });
  });
}
