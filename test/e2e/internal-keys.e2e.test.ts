import { it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { ApiKeysService } from '../../src/api-keys/api-keys.service.js';

forEachDatabase('internal keys come only from the host or from an internal key', {}, (t) => {
  const keyCount = async () => (await t.http.get('/api/v1/api-keys').set(bearer(t.adminKey))).body.length as number;

  it('an admin key cannot mint a key with the internal scope (alone or beside others): 403 SCOPE_FORBIDDEN, nothing created', async () => {
    const before = await keyCount();
    for (const scopes of [['internal'], ['admin', 'internal'], ['events', 'internal']]) {
      const response = await t.http.post('/api/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'escalate', scopes });
      assert.equal(response.status, 403, `${scopes.join(',')}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.code, 'SCOPE_FORBIDDEN');
      assert.equal(response.body.key, undefined);
    }
    assert.equal(await keyCount(), before);
    // The same admin key still creates keys without internal.
    const plain = await t.http.post('/api/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'core', scopes: ['events', 'read'] });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    assert.equal(await keyCount(), before + 1);
  });

  it('a key that holds internal itself (made on the host) may create internal keys, which work', async () => {
    const { key: hostKey } = await t.app.get(ApiKeysService).createOnHost('operator', ['admin', 'internal']);
    const response = await t.http.post('/api/v1/api-keys').set(bearer(hostKey)).send({ name: 'scripts', scopes: ['internal'] });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const me = await t.http.get('/api/v1/auth/me').set(bearer(response.body.key));
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.scopes, ['internal']);
  });
});
