import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenAPIObject } from '@nestjs/swagger';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { documentOperations } from '../utils/openapi-contract.js';
import { bodyExamples, documentAndFixtures, exampleQuery, fillPath, Fixtures, jsonBody, send } from '../utils/openapi-requests.js';

/**
 * Swagger UI's "Try it out" sends the document's examples as they are. Each example of the
 * document served at /docs-json (request bodies and parameters) is sent here with an admin key,
 * after creating the records the path ids need (test/utils/openapi-requests.ts), and must succeed.
 */
forEachDatabase('OpenAPI examples work as they are', { env: { DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let admin: Record<string, string>;
  let document: OpenAPIObject;
  let fixtures: Fixtures;

  before(async () => {
    admin = bearer(t.adminKey);
    ({ document, fixtures } = await documentAndFixtures(t));
  });

  it('gives every request body an explicit example', () => {
    const missing = documentOperations(document)
      .filter((operation) => jsonBody(document, operation) && bodyExamples(document, operation).length === 0)
      .map(({ method, path }) => `${method} ${path}`);
    assert.deepEqual(missing, [], 'request bodies without an example: Swagger UI would invent one from the schema');
  });

  it('accepts every example of the document as it is (2xx)', async () => {
    // Deletions last: the other examples use the records they would remove.
    const operations = documentOperations(document).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    assert.ok(operations.length >= 20, `only ${operations.length} operations in the document`);
    const failures: string[] = [];
    let sent = 0;
    for (const operation of operations) {
      const url = fillPath(document, operation, fixtures) + exampleQuery(document, operation);
      const examples = jsonBody(document, operation) ? bodyExamples(document, operation) : [{ name: '(no body)', value: undefined }];
      for (const example of examples) {
        const response = await send(t, operation.method, url, admin, example.value === undefined ? undefined : { json: example.value });
        sent++;
        if (response.status < 200 || response.status > 299) {
          failures.push(`${operation.method} ${url} example "${example.name}" ${JSON.stringify(example.value)} → ${response.status} ${response.text.slice(0, 300)}`);
        }
      }
    }
    assert.ok(sent >= operations.length);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} examples failed`);
  });

  it('stores the event example twice when it is sent twice (no fixed idempotency key)', async () => {
    const [operation] = documentOperations(document).filter((o) => o.method === 'POST' && o.path === '/api/v1/events');
    assert.ok(operation, 'POST /api/v1/events is not in the document');
    const examples = bodyExamples(document, operation);
    assert.ok(examples.length > 0);
    for (const example of examples) {
      const first = await send(t, 'POST', '/api/v1/events', admin, { json: example.value });
      const second = await send(t, 'POST', '/api/v1/events', admin, { json: example.value });
      assert.equal(first.status, 202, first.text);
      assert.equal(second.status, 202, second.text);
      assert.notEqual(second.body.id, first.body.id, `example "${example.name}": the second send answered the first event`);
      assert.equal(second.body.replayed, false);
      assert.equal(second.headers['idempotent-replayed'], undefined);
      const stored = await t.http.get(`/api/v1/events/${second.body.id}`).set(admin);
      assert.equal(stored.status, 200);
    }
  });
});
