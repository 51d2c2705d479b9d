import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

import {
  generateSigningSecret,
  isSigningSecret,
  sign,
  signatureHeaders,
} from '../../src/calls/webhook-signer.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const secretOf = (bytes: number): string => 'whsec_' + randomBytes(bytes).toString('base64');

/** Verifies with the independent `standardwebhooks` package; returns the parsed payload or throws. */
function verify(secret: string, body: string, headers: Record<string, string>): unknown {
  return new Webhook(secret).verify(body, headers);
}

describe('generateSigningSecret', () => {
  it("is 'whsec_' + base64 of 32 bytes", () => {
    const secret = generateSigningSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    assert.equal(key.length, 32);
    assert.equal('whsec_' + key.toString('base64'), secret);
  });

  it('differs on each call', () => {
    const secrets = new Set(Array.from({ length: 50 }, () => generateSigningSecret()));
    assert.equal(secrets.size, 50);
  });
});

describe('isSigningSecret', () => {
  it('accepts generated secrets and 24..64 byte keys', () => {
    assert.equal(isSigningSecret(generateSigningSecret()), true);
    assert.equal(isSigningSecret(secretOf(24)), true);
    assert.equal(isSigningSecret(secretOf(64)), true);
  });

  it("rejects 'whsec_' alone", () => {
    assert.equal(isSigningSecret('whsec_'), false);
  });

  it('rejects non-base64 content', () => {
    assert.equal(isSigningSecret('whsec_' + '!'.repeat(44)), false);
    assert.equal(isSigningSecret('whsec_' + 'not base64 at all, sorry!!!!!!!!!!!!!!!!!!!!'), false);
    // url-safe alphabet is not the standard one
    const body = generateSigningSecret().slice('whsec_'.length);
    assert.equal(isSigningSecret('whsec_-' + body.slice(1)), false);
    assert.equal(isSigningSecret('whsec__' + body.slice(1)), false);
    // missing padding
    assert.equal(isSigningSecret(generateSigningSecret().replace(/=+$/, '')), false);
  });

  it('rejects a missing or different prefix', () => {
    const secret = generateSigningSecret();
    assert.equal(isSigningSecret(secret.slice('whsec_'.length)), false);
    assert.equal(isSigningSecret('WHSEC_' + secret.slice('whsec_'.length)), false);
    assert.equal(isSigningSecret(''), false);
  });

  it('rejects keys shorter than 24 or longer than 64 bytes', () => {
    assert.equal(isSigningSecret(secretOf(23)), false);
    assert.equal(isSigningSecret(secretOf(65)), false);
  });
});

describe('sign', () => {
  it('matches a known-answer vector computed with node:crypto', () => {
    const key = Buffer.alloc(32);
    for (let i = 0; i < key.length; i += 1) key[i] = i;
    const secret = 'whsec_' + key.toString('base64');
    assert.equal(secret, 'whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
    const id = 'msg_2KWPBgLlAfxdpx2AI54pPszUY';
    const timestamp = 1_700_000_000;
    const body = '{"type":"invoice.paid","data":{"amount":1234,"note":"é ✓"}}';
    const expected =
      'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
    assert.equal(sign(secret, id, timestamp, body), expected);
  });

  it('uses the decoded key, not the text of the secret', () => {
    const secret = generateSigningSecret();
    const wrong = 'v1,' + createHmac('sha256', secret).update('a.1.b').digest('base64');
    assert.notEqual(sign(secret, 'a', 1, 'b'), wrong);
  });

  it('rejects an invalid secret or timestamp', () => {
    assert.throws(() => sign('whsec_', 'id', 1, 'b'), /Invalid signing secret/);
    assert.throws(() => sign('plain-text', 'id', 1, 'b'), /Invalid signing secret/);
    assert.throws(() => sign(generateSigningSecret(), 'id', 1.5, 'b'), /timestamp/);
  });
});

describe('signatureHeaders verified by the standardwebhooks package', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'client.created', data: { clientId: 12, name: 'Zoë' } });
  const id = 'dlv_01HZY8J6Q4W9';

  it('produces the three headers', () => {
    const secret = generateSigningSecret();
    const ts = nowSeconds();
    const headers = signatureHeaders([secret], id, ts, body);
    assert.deepEqual(Object.keys(headers).sort(), ['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    assert.equal(headers['webhook-id'], id);
    assert.equal(headers['webhook-timestamp'], String(ts));
    assert.equal(headers['webhook-signature'], sign(secret, id, ts, body));
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('verifies with a single secret', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], id, nowSeconds(), body);
    assert.deepEqual(verify(secret, body, headers), JSON.parse(body));
  });

  it('verifies with 24- and 64-byte secrets as well', () => {
    for (const secret of [secretOf(24), secretOf(64)]) {
      const headers = signatureHeaders([secret], id, nowSeconds(), body);
      assert.deepEqual(verify(secret, body, headers), JSON.parse(body));
    }
  });

  it('the package accepts the secret with or without the whsec_ prefix (it strips it)', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], id, nowSeconds(), body);
    assert.deepEqual(verify(secret.slice('whsec_'.length), body, headers), JSON.parse(body));
  });

  it('with two secrets [new, old] lists both, current first, and verifies with either alone', () => {
    const newSecret = generateSigningSecret();
    const oldSecret = generateSigningSecret();
    const ts = nowSeconds();
    const headers = signatureHeaders([newSecret, oldSecret], id, ts, body);
    const parts = headers['webhook-signature'].split(' ');
    assert.equal(parts.length, 2);
    assert.equal(parts[0], sign(newSecret, id, ts, body));
    assert.equal(parts[1], sign(oldSecret, id, ts, body));
    // a receiver that still has the old secret, and one that already has the new one
    assert.deepEqual(verify(oldSecret, body, headers), JSON.parse(body));
    assert.deepEqual(verify(newSecret, body, headers), JSON.parse(body));
    // an unrelated secret matches neither
    assert.throws(() => verify(generateSigningSecret(), body, headers), /No matching signature/);
  });

  it('fails verification for a tampered body', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], id, nowSeconds(), body);
    assert.throws(() => verify(secret, body.replace('12', '13'), headers), /No matching signature/);
    assert.throws(() => verify(secret, body + ' ', headers), /No matching signature/);
  });

  it('fails verification for a different id', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], id, nowSeconds(), body);
    assert.throws(() => verify(secret, body, { ...headers, 'webhook-id': id + 'x' }), /No matching signature/);
  });

  it('fails verification for a different timestamp', () => {
    const secret = generateSigningSecret();
    const ts = nowSeconds();
    const headers = signatureHeaders([secret], id, ts, body);
    assert.throws(
      () => verify(secret, body, { ...headers, 'webhook-timestamp': String(ts - 1) }),
      /No matching signature/,
    );
  });

  it('fails verification with a wrong secret', () => {
    const headers = signatureHeaders([generateSigningSecret()], id, nowSeconds(), body);
    assert.throws(() => verify(generateSigningSecret(), body, headers), /No matching signature/);
  });

  it('is rejected by the package when the timestamp is outside its tolerance', () => {
    const secret = generateSigningSecret();
    const headers = signatureHeaders([secret], id, nowSeconds() - 3600, body);
    assert.throws(() => verify(secret, body, headers), /too old/);
  });

  it('requires at least one secret and a usable id', () => {
    assert.throws(() => signatureHeaders([], id, nowSeconds(), body), /secret/);
    assert.throws(() => signatureHeaders([generateSigningSecret()], '', nowSeconds(), body), /id/);
    assert.throws(() => signatureHeaders([generateSigningSecret()], 'a\r\nb', nowSeconds(), body), /id/);
  });
});
