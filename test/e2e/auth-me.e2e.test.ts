import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';

forEachDatabase('GET /api/v1/auth/me', {}, (t) => {
  it('answers the name and scopes of any valid key, never the key', async () => {
    const admin = await t.http.get('/api/v1/auth/me').set(bearer(t.adminKey));
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    assert.deepEqual(admin.body, { id: admin.body.id, name: 'bootstrap (BOOTSTRAP_ADMIN_KEY)', scopes: ['admin'] });
    assert.equal(typeof admin.body.id, 'number');
    assert.ok(!admin.text.includes(t.adminKey));

    for (const scopes of [['read'], ['events'], ['internal'], ['admin', 'internal'], ['read', 'events']] as const) {
      const key = await t.key(...scopes);
      const me = await t.http.get('/api/v1/auth/me').set(bearer(key));
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, `test ${scopes.join('+')}`);
      assert.deepEqual(me.body.scopes, [...scopes]);
      assert.ok(!me.text.includes(key), 'the key itself must not be echoed');
    }
  });

  it('refuses a missing, malformed, unknown or revoked key', async () => {
    const missing = await t.http.get('/api/v1/auth/me');
    assert.equal(missing.status, 401);
    assert.equal(missing.body.code, 'AUTH_REQUIRED');
    const malformed = await t.http.get('/api/v1/auth/me').set('Authorization', 'Basic abc');
    assert.equal(malformed.status, 401);
    assert.equal(malformed.body.code, 'AUTH_INVALID');
    const unknown = await t.http.get('/api/v1/auth/me').set(bearer('pk_not_a_key_of_this_database'));
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.code, 'AUTH_INVALID');

    const key = await t.key('read');
    const me = await t.http.get('/api/v1/auth/me').set(bearer(key));
    const revoked = await t.http.delete(`/api/v1/api-keys/${me.body.id}`).set(bearer(t.adminKey));
    assert.equal(revoked.status, 204);
    const after = await t.http.get('/api/v1/auth/me').set(bearer(key));
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'AUTH_INVALID');
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.http.get('/docs-json')).body;
    const route = doc.paths['/api/v1/auth/me']?.get;
    assert.ok(route, 'GET /api/v1/auth/me is missing from the document');
    assert.ok(route.security?.length, 'its auth must be documented');
    assert.deepEqual(route.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/CallerDto' });
    assert.ok(route.responses['401']);
  });
});
