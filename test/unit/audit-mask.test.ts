import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { maskSecrets } from '../../src/audit/audit-mask.js';
import { MASK } from '../../src/handlers/handler-view.js';

const SIGNING = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const API_KEY = `pk_${'A'.repeat(43)}`;

describe('maskSecrets (the one masking of audit rows)', () => {
  it('masks the signing secrets of a handler and keeps everything else', () => {
    const handler = {
      id: 7,
      name: 'CRM',
      status: 'enabled',
      task: '127.0.0.1:5000/api',
      signing_secret: SIGNING,
      previous_secret: null,
      previous_secret_expires_at: '2026-11-23T10:00:00.000Z',
      updated_at: '2026-11-22T10:00:00.000Z',
    };
    assert.deepEqual(maskSecrets(handler), { ...handler, signing_secret: MASK });
  });

  it('masks header values whose names look secret, as answers do, and keeps the others', () => {
    const headers = { Authorization: 'Bearer t0k', 'X-Api-Key': 'k1', Cookie: 'c=1', 'X-Session-Id': 's', 'X-Tenant': 'north', 'X-Auth-Token': 'a' };
    assert.deepEqual(maskSecrets({ headers }), {
      headers: { Authorization: MASK, 'X-Api-Key': MASK, Cookie: MASK, 'X-Session-Id': MASK, 'X-Tenant': 'north', 'X-Auth-Token': MASK },
    });
  });

  it('masks credentials fields of any shape, whole, at any depth', () => {
    const target = {
      auth: { type: 'basic', username: 'u', password: 'p' },
      credentials: { client_id: 'id', client_secret: 's' },
      nested: [{ token: 'bearer-value', kept: 1 }, { private_key: '-----BEGIN PRIVATE KEY-----' }, { apiKey: 'x', passphrase: 'y' }],
    };
    assert.deepEqual(maskSecrets(target), {
      auth: MASK,
      credentials: MASK,
      nested: [{ token: MASK, kept: 1 }, { private_key: MASK }, { apiKey: MASK, passphrase: MASK }],
    });
  });

  it('masks the names the logger redacts (REDACTED_KEYS), except that headers are masked value by value', () => {
    assert.deepEqual(maskSecrets({ key: 'k', api_key: 'a', secret: 's', signingSecret: 's', password: 'p', headers: { 'X-Tenant': 'n' } }), {
      key: MASK,
      api_key: MASK,
      secret: MASK,
      signingSecret: MASK,
      password: MASK,
      headers: { 'X-Tenant': 'n' },
    });
  });

  it("cuts the service's own secrets out of any text", () => {
    assert.deepEqual(maskSecrets({ name: `copied ${SIGNING} here`, disabled_reason: `key ${API_KEY}.` }), {
      name: `copied ${MASK} here`,
      disabled_reason: `key ${MASK}.`,
    });
  });

  it('keeps null and absent values, times, an API key’s prefix and its scopes', () => {
    const key = { id: 3, name: 'ops', key_prefix: 'pk_Xq3k9aB', scopes: ['admin'], revoked_at: null, last_used_at: null };
    assert.deepEqual(maskSecrets(key), key);
    assert.deepEqual(maskSecrets({ signing_secret: null, secret_rotated_at: '2026-11-22T10:00:00Z' }), { signing_secret: null, secret_rotated_at: '2026-11-22T10:00:00Z' });
    assert.equal(maskSecrets(null), null);
    assert.equal(maskSecrets(undefined), undefined);
  });

  it('does not change what it is given', () => {
    const input = { signing_secret: SIGNING, headers: { Authorization: 'Bearer x' } };
    maskSecrets(input);
    assert.deepEqual(input, { signing_secret: SIGNING, headers: { Authorization: 'Bearer x' } });
  });
});
