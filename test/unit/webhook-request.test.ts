import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';

import { DEFAULT_DENIED_NETWORKS } from '../../src/config/app-config.js';
import { NetworkPolicy } from '../../src/common/network-policy.js';
import { generateSigningSecret } from '../../src/calls/webhook-signer.js';
import {
  RequestHandler,
  signingSecrets,
  USER_AGENT,
  webhookHeaders,
  WebhookRequests,
  webhookTarget,
} from '../../src/calls/webhook-request.js';

const open = new NetworkPolicy({ mode: 'open', allow: [], deny: [...DEFAULT_DENIED_NETWORKS] });
const strict = new NetworkPolicy({ mode: 'strict', allow: [], deny: [...DEFAULT_DENIED_NETWORKS] });
const NOW = Date.UTC(2026, 10, 22, 10, 15, 30);
const BODY = '{"event":{"id":"clients.update","object_id":12},"data":{"id":12,"name":"é ✓"}}';

const handler = (overrides: Partial<RequestHandler> = {}): RequestHandler => ({
  type: 'http',
  task: '127.0.0.1:5000/hooks/clients?tenant=north',
  headers: {},
  signingSecret: null,
  previousSecret: null,
  previousSecretExpiresAt: null,
  ...overrides,
});

describe('webhookTarget', () => {
  it('turns the vendor form host:port/path into the origin and the path with its query', () => {
    assert.deepEqual(webhookTarget(handler(), open), { origin: 'http://127.0.0.1:5000', path: '/hooks/clients?tenant=north' });
  });

  it('takes a full URL of the handler\'s own scheme, with the default port left out', () => {
    assert.deepEqual(webhookTarget(handler({ type: 'https', task: 'https://hooks.example.com:443/in' }), open), { origin: 'https://hooks.example.com', path: '/in' });
  });

  it('answers why a task cannot be called instead of throwing', () => {
    const target = webhookTarget(handler({ type: 'http', task: 'https://hooks.example.com/in' }), open);
    assert.deepEqual(target, { invalid: 'task is a https:// URL but the handler type is http' });
    assert.ok('invalid' in webhookTarget(handler({ task: 'http://user:pass@hooks.example.com/in' }), open));
  });

  it('refuses a literal address the outbound policy denies, naming it and the reason', () => {
    assert.deepEqual(webhookTarget(handler({ task: '169.254.169.254/latest/meta-data' }), open), {
      refused: { address: '169.254.169.254', reason: 'a denied network (OUTBOUND_DENY_NETWORKS)' },
    });
  });

  it('judges an IPv6 literal without its brackets', () => {
    const target = webhookTarget(handler({ task: '[::1]:8080/hook' }), strict);
    assert.ok('refused' in target, JSON.stringify(target));
    assert.equal(target.refused.address, '::1');
    assert.match(target.refused.reason, /strict mode/);
    assert.deepEqual(webhookTarget(handler({ task: '[::1]:8080/hook' }), open), { origin: 'http://[::1]:8080', path: '/hook' });
  });

  it('leaves a host name to be judged at connect time, on the addresses it resolves to', () => {
    assert.deepEqual(webhookTarget(handler({ task: 'localhost:8080/hook' }), strict), { origin: 'http://localhost:8080', path: '/hook' });
  });
});

describe('signingSecrets', () => {
  const current = generateSigningSecret();
  const previous = generateSigningSecret();

  it('is empty without a secret, and the current one alone without a rotation', () => {
    assert.deepEqual(signingSecrets(handler(), NOW), []);
    assert.deepEqual(signingSecrets(handler({ signingSecret: current }), NOW), [current]);
  });

  it('adds the previous secret, after the current one, while its overlap lasts', () => {
    assert.deepEqual(signingSecrets(handler({ signingSecret: current, previousSecret: previous, previousSecretExpiresAt: NOW + 1 }), NOW), [current, previous]);
    assert.deepEqual(signingSecrets(handler({ signingSecret: current, previousSecret: previous, previousSecretExpiresAt: NOW }), NOW), [current]);
    assert.deepEqual(signingSecrets(handler({ signingSecret: current, previousSecret: previous, previousSecretExpiresAt: null }), NOW), [current]);
  });
});

describe('webhookHeaders', () => {
  it('sends the custom headers in lower case, and the fixed ones', () => {
    const headers = webhookHeaders(handler({ headers: { 'X-Tenant': 'north', Authorization: 'Bearer abc' } }), 'msg_d1', BODY, NOW);
    assert.deepEqual(headers, {
      'x-tenant': 'north',
      authorization: 'Bearer abc',
      'webhook-id': 'msg_d1',
      accept: 'application/json, text/plain, */*',
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    });
  });

  it('without a secret carries the webhook id alone, no timestamp or signature', () => {
    const headers = webhookHeaders(handler(), 'msg_d2', BODY, NOW);
    assert.equal(headers['webhook-id'], 'msg_d2');
    assert.equal(headers['webhook-timestamp'], undefined);
    assert.equal(headers['webhook-signature'], undefined);
  });

  it('signs the body with the current secret at the time of the call (whole seconds)', () => {
    const secret = generateSigningSecret();
    const now = Date.now();
    const headers = webhookHeaders(handler({ signingSecret: secret }), 'msg_d3', BODY, now);
    assert.equal(headers['webhook-timestamp'], String(Math.floor(now / 1000)));
    assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]+=*$/);
    // Verified by the independent standardwebhooks package, which also checks the timestamp is recent.
    assert.deepEqual(new Webhook(secret).verify(BODY, headers), JSON.parse(BODY));
    assert.throws(() => new Webhook(generateSigningSecret()).verify(BODY, headers));
    assert.throws(() => new Webhook(secret).verify(BODY.replace('"id":12', '"id":13'), headers));
  });

  it('during a rotation carries one signature per secret, each verifying on its own', () => {
    const current = generateSigningSecret();
    const previous = generateSigningSecret();
    const now = Date.now();
    const headers = webhookHeaders(handler({ signingSecret: current, previousSecret: previous, previousSecretExpiresAt: now + 60_000 }), 'msg_d4', BODY, now);
    assert.equal(headers['webhook-signature']!.split(' ').length, 2);
    assert.doesNotThrow(() => new Webhook(current).verify(BODY, headers));
    assert.doesNotThrow(() => new Webhook(previous).verify(BODY, headers));
  });

  it('keeps its own accept over a custom one', () => {
    assert.equal(webhookHeaders(handler({ headers: { Accept: 'text/html' } }), 'msg_d5', BODY, NOW).accept, 'application/json, text/plain, */*');
  });
});

describe('WebhookRequests.build', () => {
  it('answers the whole request: target, headers, body', () => {
    const requests = new WebhookRequests(open);
    const request = requests.build(handler({ headers: { 'X-Tenant': 'north' } }), BODY, 'msg_d6', NOW);
    assert.ok('origin' in request, JSON.stringify(request));
    assert.equal(request.origin, 'http://127.0.0.1:5000');
    assert.equal(request.path, '/hooks/clients?tenant=north');
    assert.equal(request.body, BODY);
    assert.equal(request.headers['x-tenant'], 'north');
    assert.equal(request.headers['webhook-id'], 'msg_d6');
  });

  it('answers why nothing can be sent for an invalid or refused task', () => {
    const requests = new WebhookRequests(open);
    assert.ok('invalid' in requests.build(handler({ task: 'http://user:pass@example.com/' }), BODY, 'msg_d7', NOW));
    assert.deepEqual(requests.build(handler({ task: '169.254.169.254/x' }), BODY, 'msg_d8', NOW), {
      refused: { address: '169.254.169.254', reason: 'a denied network (OUTBOUND_DENY_NETWORKS)' },
    });
  });

  it('shares the parsed target between handlers with the same task, never their headers or secrets', () => {
    const requests = new WebhookRequests(open);
    const secret = generateSigningSecret();
    const first = requests.build(handler({ headers: { 'X-Tenant': 'north' }, signingSecret: secret }), BODY, 'msg_d9', NOW);
    const second = requests.build(handler({ headers: { 'X-Tenant': 'south' } }), BODY, 'msg_d10', NOW);
    assert.ok('origin' in first && 'origin' in second);
    assert.equal(second.origin, first.origin);
    assert.equal(second.path, first.path);
    assert.equal(first.headers['x-tenant'], 'north');
    assert.equal(second.headers['x-tenant'], 'south');
    assert.ok(first.headers['webhook-signature']);
    assert.equal(second.headers['webhook-signature'], undefined);
  });
});
