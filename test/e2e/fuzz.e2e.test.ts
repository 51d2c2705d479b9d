import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenAPIObject } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, countRows } from '../utils/test-app.js';
import { documentOperations, DocumentedOperation, resolveRef } from '../utils/openapi-contract.js';
import {
  bodyExamples,
  documentAndFixtures,
  declaredScopes,
  fillPath,
  fixtureId,
  Fixtures,
  jsonBody,
  paramExample,
  parametersOf,
  send,
} from '../utils/openapi-requests.js';
import { documentedErrorCodes } from '../utils/error-codes.js';
import { SCOPES, Scope } from '../../src/api-keys/scopes.js';

/**
 * Schema-driven fuzz: every operation of the OpenAPI document the app serves (so a new route is
 * covered without editing this file) gets requests that are invalid by the document — no key, a
 * key of a wrong scope, odd path and query parameters, malformed, empty, mistyped and oversized
 * bodies, unknown fields (`__proto__`, `constructor`, `prototype`), 10,000-level nesting and
 * odd numbers. Every one must be refused with a 4xx carrying the documented error body
 * {statusCode, code, message, details} whose code docs/errors.md lists with that status, and
 * none may change a record: the rows of handlers, API keys, events, deliveries and execution
 * logs are read with SQL before and after (no paging to fool).
 *
 * A generated input that the document's own schema accepts is a valid request, not a fuzz
 * case: it is dropped before sending (see `invalidBody` / `invalidQueryValue`), so whatever is
 * sent must be refused.
 */
const DOCUMENTED = documentedErrorCodes();
const DEPTH = 10_000;

type Expect = 401 | 403 | '4xx';
type Row = Record<string, unknown> & { id: unknown };
interface FuzzCase {
  kind: string;
  input: string;
  operation: DocumentedOperation;
  url: string;
  headers: Record<string, string>;
  body?: { text: string; contentType?: string } | { json: unknown };
  expect: Expect;
}

const excerpt = (text: string, n = 160) => (text.length > n ? `${text.slice(0, n)}…(${text.length} chars)` : text);
const has = (o: unknown, k: string) => typeof o === 'object' && o !== null && Object.hasOwn(o, k);

forEachDatabase('schema-driven fuzz of every operation', { env: { DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let document: OpenAPIObject;
  let fixtures: Fixtures;
  let admin: Record<string, string>;
  const keys = new Map<Scope, string>();
  let baseline: Snapshot;
  let sent = 0;
  const started = Date.now();

  /** What the fuzz must not change, read straight from the tables. */
  const snapshot = async () => {
    const data = t.app.get(DataSource);
    const count = (table: string) => countRows(t, table);
    return {
      counts: {
        handlers: await count('handlers'),
        api_keys: await count('api_keys'),
        events: await count('events'),
        deliveries: await count('deliveries'),
        execution_logs: await count('execution_logs'),
        // A refused request writes no audit row either.
        audit_log: await count('audit_log'),
      },
      rows: {
        handlers: (await data.query('SELECT * FROM handlers ORDER BY id')) as Row[],
        // last_used_at moves with every request; everything else must stay.
        api_keys: (await data.query('SELECT id, name, key_hash, key_prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id')) as Row[],
        deliveries: (await data.query('SELECT id, status, attempts, manual, next_attempt_at FROM deliveries ORDER BY id')) as Row[],
      },
    };
  };
  type Snapshot = Awaited<ReturnType<typeof snapshot>>;
  /** What changed between two snapshots, one line per count or row. */
  const changes = (before: Snapshot, now: Snapshot): string[] => {
    const lines: string[] = [];
    for (const [table, count] of Object.entries(before.counts)) {
      const after = now.counts[table as keyof Snapshot['counts']];
      if (after !== count) lines.push(`${table}: ${count} rows before, ${after} after`);
    }
    for (const [table, rows] of Object.entries(before.rows)) {
      const later = new Map(now.rows[table as keyof Snapshot['rows']].map((row) => [String(row.id), row]));
      // Rows compared one by one: the records made before the fuzz. Rows an earlier wrongly
      // accepted request created show in the counts; their later life (the worker retrying
      // their deliveries) is not this phase's doing.
      const known = new Set(baseline.rows[table as keyof Snapshot['rows']].map((row) => String(row.id)));
      for (const row of rows.filter((r) => known.has(String(r.id)))) {
        const other = later.get(String(row.id));
        if (!other) lines.push(`${table} ${row.id}: deleted`);
        else {
          const fields = Object.keys(row).filter((k) => JSON.stringify(row[k]) !== JSON.stringify(other[k]));
          if (fields.length) lines.push(`${table} ${row.id}: ${fields.map((f) => `${f} ${JSON.stringify(row[f])} → ${JSON.stringify(other[f])}`).join(', ')}`);
        }
      }
    }
    return lines;
  };

  before(async () => {
    admin = bearer(t.adminKey);
    ({ document, fixtures } = await documentAndFixtures(t));
    // The fuzz sends with keys of its own: key 1 (the bootstrap admin key) is one of the records
    // the odd ids aim at, and its loss must show as a change, not silence every later request.
    for (const scope of SCOPES) keys.set(scope, await t.key(scope));
    admin = bearer(keys.get('admin')!);
    // The known records the odd ids aim at (0x1, 1e0, +1 and 1.5 all read as 1 if parsed loosely).
    assert.equal(fixtures.handler, 1, 'the main fixture handler must have id 1');
    const key1 = await t.app.get(DataSource).query('SELECT id FROM api_keys WHERE id = 1');
    assert.equal(key1.length, 1, 'API key 1 (the admin key) must exist');
    baseline = await snapshot();
  });
  after(async () => {
    console.log(`fuzz [${t.kind.name}]: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  const operations = () => documentOperations(document);
  /** A request of `operation` that would succeed: real ids, the first body example. */
  const validBody = (operation: DocumentedOperation) => {
    const [example] = bodyExamples(document, operation);
    return example === undefined ? undefined : { json: example.value };
  };

  /**
   * A batch answers 200 and judges each item on its own (BatchResultDto: accepted, replayed,
   * rejected). Such an answer refuses the request when it accepted nothing.
   */
  const refusedPerItem = (operation: DocumentedOperation, status: number, body: any): boolean => {
    const declared = resolveRef(document, operation.operation.responses?.[String(status)]);
    const schema = resolveRef(document, declared?.content?.['application/json']?.schema);
    const perItem = ['accepted', 'replayed', 'rejected', 'items'].every((k) => has(schema?.properties, k));
    return perItem && body?.accepted === 0 && body?.replayed === 0;
  };

  /** Sends every case; returns the refusals that broke a rule, grouped by (route, input kind, answer). */
  const run = async (cases: FuzzCase[]): Promise<string[]> => {
    const groups = new Map<string, { count: number; first: string; inputs: Set<string> }>();
    for (const c of cases) {
      const response = await send(t, c.operation.method, c.url, c.headers, c.body);
      sent++;
      const problems: string[] = [];
      const status = response.status;
      if (status >= 500) problems.push('5xx');
      else if (status < 400 && !refusedPerItem(c.operation, status, response.body)) problems.push(`accepted (${status})`);
      else if (c.expect !== '4xx' && status !== c.expect) problems.push(`expected ${c.expect}`);
      // With a valid admin key, a 401/403 means the input was never looked at (was the key revoked?).
      else if (c.expect === '4xx' && (status === 401 || status === 403)) problems.push('refused by the key check, not by the input check');
      let body: unknown;
      try {
        body = JSON.parse(response.text);
      } catch {
        body = undefined;
      }
      if (status >= 400) {
        const shape =
          body !== null &&
          typeof body === 'object' &&
          !Array.isArray(body) &&
          Object.keys(body).sort().join() === 'code,details,message,statusCode' &&
          (body as any).statusCode === status &&
          typeof (body as any).message === 'string' &&
          Array.isArray((body as any).details);
        if (!shape) problems.push('not the error shape {statusCode, code, message, details}');
        const code = (body as any)?.code;
        if (typeof code !== 'string' || !DOCUMENTED.has(code)) problems.push(`code ${JSON.stringify(code)} not in docs/errors.md`);
        else if (DOCUMENTED.get(code) !== status) problems.push(`code ${code} is documented with ${DOCUMENTED.get(code)}, answered ${status}`);
      }
      if (problems.length === 0) continue;
      const code = has(body, 'code') ? (body as any).code : '-';
      const key = `${c.operation.method} ${c.operation.path} | ${c.kind} | ${status} ${code} | ${problems.join('; ')}`;
      const group = groups.get(key);
      if (group) {
        group.count++;
        group.inputs.add(c.input);
      } else {
        const sentBody = c.body === undefined ? '' : 'json' in c.body ? JSON.stringify(c.body.json) : c.body.text;
        groups.set(key, { count: 1, inputs: new Set([c.input]), first: `${c.url} ${excerpt(sentBody ?? '', 100)} → ${excerpt(response.text, 200)}` });
      }
    }
    return [...groups.entries()].map(
      ([key, { count, first, inputs }]) => `${key} (×${count})\n    inputs: ${[...inputs].slice(0, 12).map((i) => excerpt(i, 40)).join(' | ')}\n    e.g. ${first}`,
    );
  };

  /** Sends the cases, then fails listing every broken rule and every record they changed. */
  const verdict = async (cases: FuzzCase[]) => {
    const before = await snapshot();
    const failures = await run(cases);
    const changed = changes(before, await snapshot());
    assert.deepEqual(
      { failures, changed },
      { failures: [], changed: [] },
      `${cases.length} requests; ${failures.length} kind(s) of answer broke the rules, ${changed.length} record change(s):\n` +
        `${failures.join('\n')}\n${changed.map((line) => `changed: ${line}`).join('\n')}`,
    );
  };

  it('refuses a missing key, an unknown key and every scope the operation does not take', async () => {
    const cases: FuzzCase[] = [];
    for (const operation of operations()) {
      if (!operation.operation.security?.length) continue;
      const url = fillPath(document, operation, fixtures);
      const body = validBody(operation);
      cases.push({ kind: 'no key', input: 'no Authorization', operation, url, headers: {}, body, expect: 401 });
      cases.push({ kind: 'unknown key', input: 'Bearer pk_unknown', operation, url, headers: bearer('pk_' + 'x'.repeat(43)), body, expect: 401 });
      cases.push({ kind: 'not bearer', input: 'Basic auth', operation, url, headers: { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, body, expect: 401 });
      for (const scope of await wrongScopes(operation)) {
        cases.push({ kind: `scope ${scope}`, input: `a ${scope} key`, operation, url, headers: bearer(keys.get(scope)!), body, expect: 403 });
      }
    }
    assert.ok(cases.length > 50, `only ${cases.length} auth cases`);
    await verdict(cases);
  });

  /**
   * The scopes that must be refused: those the document does not list for the operation, or
   * when it lists none, those the service answers 403 for (learned with a request whose
   * path id matches nothing, so a wrongly accepted scope acts on nothing).
   */
  const wrongScopes = async (operation: DocumentedOperation): Promise<Scope[]> => {
    const declared = declaredScopes(operation);
    if (declared) return SCOPES.filter((scope) => !declared.includes(scope));
    const wrong: Scope[] = [];
    const url = fillPath(document, operation, fixtures, { id: '987654321', entity: 'no-such-entity' });
    for (const scope of SCOPES) {
      const response = await send(t, operation.method, url, bearer(keys.get(scope)!), { text: '{' });
      sent++;
      if (response.status === 403) wrong.push(scope);
    }
    return wrong;
  };

  /** Whether a query value (as sent, a string or repeated) breaks the parameter's schema. */
  const invalidQueryValue = (schema: Record<string, any> | undefined, values: string[]): boolean => {
    const resolved = resolveRef(document, schema) ?? {};
    if (values.length !== 1) return resolved.type !== 'array';
    const text = values[0]!;
    if (resolved.type === 'integer' || resolved.type === 'number') {
      const pattern = resolved.type === 'integer' ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
      if (!pattern.test(text)) return true;
      const value = Number(text);
      if (resolved.type === 'integer' && !Number.isSafeInteger(value)) return true;
      return !t.contract.matches(resolved, value);
    }
    return !t.contract.matches(resolved, text);
  };

  it('refuses odd query parameters: huge, negative, fractional, repeated, unknown', async () => {
    const cases: FuzzCase[] = [];
    for (const operation of operations()) {
      const params = parametersOf(document, operation).filter((p) => p.in === 'query');
      if (params.length === 0) continue;
      const url = fillPath(document, operation, fixtures);
      for (const param of params) {
        const odd: string[][] = [
          ['99999999999999999999'], ['1e18'], ['1000000000000000000'], ['-1'], ['0'], ['1.5'], ['0x10'], ['abc'], ['-0'], [''],
          ['1', '2'], ['2026-13-45T99:99:99Z'], ['x'.repeat(5000)], ['%00'],
        ];
        for (const values of odd) {
          if (!invalidQueryValue(param.schema, values)) continue;
          const query = values.map((v) => `${encodeURIComponent(param.name)}=${encodeURIComponent(v)}`).join('&');
          cases.push({ kind: `query ${param.name}`, input: query.slice(0, 60), operation, url: `${url}?${query}`, headers: admin, expect: '4xx' });
        }
        cases.push({ kind: `query ${param.name}[]`, input: `${param.name}[]=1`, operation, url: `${url}?${param.name}[]=1`, headers: admin, expect: '4xx' });
      }
      for (const unknown of ['zz_unknown=1', '__proto__=1', 'constructor=1', 'prototype=1', '__proto__[admin]=1']) {
        cases.push({ kind: 'query unknown', input: unknown, operation, url: `${url}?${unknown}`, headers: admin, expect: '4xx' });
      }
    }
    assert.ok(cases.length > 30, `only ${cases.length} query cases`);
    await verdict(cases);
  });

  /** Whether a JSON text breaks the operation's body schema (or a documented limit: depth, non-finite numbers). */
  const invalidBody = (operation: DocumentedOperation, text: string): boolean => {
    const body = jsonBody(document, operation)!;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return true;
    }
    if (text.includes('1e309')) return true; // not a finite number: no schema number accepts it
    if (nesting(value) > t.config.http.maxJsonDepth) return true; // MAX_JSON_DEPTH (docs/errors.md JSON_TOO_DEEP)
    return body.schema ? !t.contract.matches(body.schema, value) : false;
  };
  const nesting = (value: unknown): number => {
    let depth = 0;
    let level: unknown[] = [value];
    while (level.length) {
      const next: unknown[] = [];
      for (const v of level) if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      if (next.length === 0 && !level.some((v) => v !== null && typeof v === 'object')) break;
      depth++;
      level = next;
    }
    return depth;
  };
  const deepObject = (depth: number) => `${'{"x":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  /** The example's JSON text with `field` replaced by raw JSON text `raw` (or added). */
  const withField = (example: Record<string, unknown>, field: string, raw: string) => {
    const rest = { ...example };
    delete rest[field];
    const inner = JSON.stringify(rest).slice(1, -1);
    return `{${inner}${inner ? ',' : ''}${JSON.stringify(field)}:${raw}}`;
  };

  it('refuses malformed, empty, mistyped, oversized, deep and polluted bodies', async () => {
    const cases: FuzzCase[] = [];
    for (const operation of operations()) {
      const url = fillPath(document, operation, fixtures);
      const body = jsonBody(document, operation);
      const add = (kindName: string, text: string, contentType = 'application/json', label = excerpt(text, 60)) =>
        cases.push({ kind: kindName, input: label, operation, url, headers: admin, body: { text, contentType }, expect: '4xx' });
      // Malformed JSON is refused on every route that could read a body, with or without one declared.
      if (operation.method !== 'GET' && operation.method !== 'DELETE') {
        for (const text of ['{', '{"a":', '[1,2', 'nul', "{'a':1}", '{"a":1}}', '{"a":1,}', '\u0000', '{"a":01}', '{"a":NaN}']) add('malformed JSON', text);
      }
      if (!body) continue;
      const example = (bodyExamples(document, operation)[0]?.value ?? {}) as Record<string, unknown>;
      const schema = body.schema ?? {};
      const properties = (schema.properties ?? {}) as Record<string, Record<string, any>>;
      // [kind, JSON text, the odd part shown in the report]
      const candidates: [string, string, string?][] = [];
      if (body.required || (schema.required ?? []).length > 0) candidates.push(['empty body', '']);
      for (const text of ['[]', '"text"', '42', 'null', 'true', '[{}]', JSON.stringify([example])]) candidates.push(['wrong top-level type', text]);
      for (const field of schema.required ?? []) {
        if (!has(example, field)) continue;
        const rest = { ...example };
        delete rest[field];
        candidates.push([`missing ${field}`, JSON.stringify(rest)]);
      }
      for (const field of ['zz_unknown', '__proto__', 'constructor', 'prototype']) {
        candidates.push([`unknown field ${field}`, withField(example, field, '{"admin":true,"polluted":1}'), `${field}: {…}`]);
        candidates.push([`unknown field ${field}`, withField(example, field, '1'), `${field}: 1`]);
      }
      candidates.push(['deep nesting (unknown field)', withField(example, 'zz_deep', deepObject(DEPTH))]);
      candidates.push(['deep nesting (top-level array)', deepArray(DEPTH)]);
      for (const [field, property] of Object.entries(properties)) {
        const resolved = resolveRef(document, property) ?? {};
        const wrong = ['123', '"text"', 'true', 'null', '[]', '{}', '1.5', '[1,"a"]'];
        for (const raw of wrong) candidates.push([`${field}: wrong type`, withField(example, field, raw), raw]);
        for (const raw of ['1e309', '-0', '9223372036854775808', '-1', '1.0000000000000002', '1e2']) {
          candidates.push([`${field}: odd number`, withField(example, field, raw), raw]);
        }
        candidates.push([`${field}: huge string`, withField(example, field, JSON.stringify('x'.repeat(100_000)))]);
        if (resolved.type === 'object' || resolved.allOf || resolved.$ref) {
          candidates.push([`${field}: deep nesting`, withField(example, field, deepObject(DEPTH))]);
        }
      }
      for (const [kindName, text, label] of candidates) if (invalidBody(operation, text)) add(kindName, text, 'application/json', label);
      // Documented limits and media types: refused whatever the schema says.
      const exampleText = JSON.stringify(example);
      add('not application/json', exampleText, 'text/plain');
      add('not application/json', 'name=x&event=clients.create', 'application/x-www-form-urlencoded');
      add('over BODY_LIMIT_BYTES', withField(example, 'zz_pad', JSON.stringify('x'.repeat(t.config.http.bodyLimitBytes + 10))));
    }
    assert.ok(cases.length > 200, `only ${cases.length} body cases`);
    await verdict(cases);
  });

  // Last of the fuzz: an odd id that the service reads loosely lands on a real record (and may
  // delete it); deletions go last so the other routes still find their records.
  it('refuses odd path parameters without touching the records they resemble', async () => {
    const cases: FuzzCase[] = [];
    const byMethod = operations().sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    for (const operation of byMethod) {
      const params = parametersOf(document, operation).filter((p) => p.in === 'path');
      for (const param of params) {
        // The value that names a real record: the parameter's example, else the fixture id.
        const existing = String(paramExample(param) ?? fixtureId(operation.method, operation.path, fixtures, param.name));
        const odd = [
          '0', '-1', '1.5', '0x1', '1e0', '+1', '%20', '9'.repeat(20), 'a'.repeat(200), '%ZZ', `%20${existing}`, `${existing}%20`,
          `${existing}%00`, '%2e%2e', 'null', 'undefined', '__proto__', 'constructor',
        ];
        for (const value of odd) {
          // A value equal to the real one (after decoding) is not odd: `existing` itself is valid.
          if (value === existing) continue;
          if (param.schema?.enum && param.schema.enum.includes(value)) continue;
          const url = fillPath(document, operation, fixtures, { [param.name]: value });
          cases.push({ kind: `path ${param.name}`, input: JSON.stringify(value), operation, url, headers: admin, body: validBody(operation), expect: '4xx' });
        }
      }
    }
    assert.ok(cases.length > 100, `only ${cases.length} path cases`);
    await verdict(cases);
  });

  it('leaves the known records as they were', async () => {
    const handler = await t.http.get(`/api/v1/handlers/${fixtures.handler}`).set(admin);
    assert.equal(handler.status, 200);
    assert.equal(handler.body.name, 'fixture: main');
    assert.equal(handler.body.status, 'enabled');
    const me = await t.http.get('/api/v1/auth/me').set(bearer(t.adminKey));
    assert.equal(me.status, 200, 'the admin key (id 1) no longer works');
    assert.equal(me.body.id, 1);
    const spare = await t.http.get('/api/v1/api-keys').set(admin);
    assert.equal(spare.body.find((k: { id: number }) => k.id === fixtures.spareKey)?.revoked_at, null);
    assert.deepEqual(changes(baseline, await snapshot()), [], 'the fuzz changed records');
  });
});
