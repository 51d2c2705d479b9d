import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_DENIED_NETWORKS } from '../../src/config/app-config.js';
import { NetworkPolicy } from '../../src/common/network-policy.js';
import { failedCall, answeredCall, timedOutCall, type CallResult } from '../../src/calls/call-result.js';
import { OAuth2Token, readTokenAnswer, tokenRequest, DEFAULT_TOKEN_LIFETIME_MS, type ClientCredentialsGrant } from '../../src/calls/oauth2-token.js';
import { AuthenticatingHandler, authenticates, TargetAuths } from '../../src/calls/target-auth.js';
import { webhookHeaders } from '../../src/calls/webhook-request.js';
import { authFromInput, assertValidCredentials, NO_CREDENTIALS, parseTokenUrl } from '../../src/handlers/handler-credentials.js';
import { DomainError } from '../../src/common/errors.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';

const open = new NetworkPolicy({ mode: 'open', allow: [], deny: [...DEFAULT_DENIED_NETWORKS] });
const grant: ClientCredentialsGrant = { tokenUrl: { origin: 'https://auth.example.com', path: '/oauth/token' }, clientId: 'id:1', clientSecret: 's&cret', scope: 'a b' };
const tokenAnswer = (body: unknown, status = 200) => answeredCall(status, typeof body === 'string' ? body : JSON.stringify(body), undefined, 5);

describe('OAuth2 token request and answer', () => {
  it('asks for client credentials in a form, the client authenticated with HTTP basic (id and secret form-encoded)', () => {
    const request = tokenRequest({ ...grant, audience: 'https://api' });
    assert.equal(request.origin, 'https://auth.example.com');
    assert.equal(request.path, '/oauth/token');
    assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(Buffer.from(request.headers.authorization!.replace(/^Basic /, ''), 'base64').toString(), 'id%3A1:s%26cret');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(request.body)), { grant_type: 'client_credentials', scope: 'a b', audience: 'https://api' });
  });

  it('reads a bearer token and its lifetime; without expires_in it is trusted for the default lifetime', () => {
    assert.deepEqual(readTokenAnswer(tokenAnswer({ access_token: 'abc', token_type: 'Bearer', expires_in: 60 })), { token: 'abc', lifetimeMs: 60_000 });
    assert.deepEqual(readTokenAnswer(tokenAnswer({ access_token: 'abc', token_type: 'bearer', expires_in: '30' })), { token: 'abc', lifetimeMs: 30_000 });
    assert.deepEqual(readTokenAnswer(tokenAnswer({ access_token: 'abc' })), { token: 'abc', lifetimeMs: DEFAULT_TOKEN_LIFETIME_MS });
  });

  it('tells a refusal by its status and standard error code only, never what else the answer says', () => {
    const refused = readTokenAnswer(tokenAnswer({ error: 'invalid_client', error_description: 'secret s&cret is wrong' }, 401));
    assert.deepEqual(refused, { error: 'OAuth2 token endpoint answered 401 (invalid_client)', timedOut: false });
    assert.deepEqual(readTokenAnswer(tokenAnswer({ error: 'bad\ncode' }, 400)), { error: 'OAuth2 token endpoint answered 400', timedOut: false });
    assert.deepEqual(readTokenAnswer(tokenAnswer('<html>', 502)), { error: 'OAuth2 token endpoint answered 502', timedOut: false });
  });

  it('refuses an answer without a usable token, or with a token of another type', () => {
    assert.match((readTokenAnswer(tokenAnswer('not json')) as { error: string }).error, /without a JSON object/);
    assert.match((readTokenAnswer(tokenAnswer({ token: 'x' })) as { error: string }).error, /without a usable access_token/);
    assert.match((readTokenAnswer(tokenAnswer({ access_token: 'a b' })) as { error: string }).error, /without a usable access_token/);
    assert.deepEqual(readTokenAnswer(tokenAnswer({ access_token: 'x', token_type: 'mac' })), { error: 'OAuth2 token endpoint answered a token of type mac, not bearer', timedOut: false });
  });

  it('says why a token request got no answer, and whether it timed out', () => {
    assert.deepEqual(readTokenAnswer(failedCall('connection refused')), { error: 'OAuth2 token request failed: connection refused', timedOut: false });
    assert.deepEqual(readTokenAnswer(timedOutCall(500, 501)), { error: 'OAuth2 token request failed: timeout after 500 ms', timedOut: true });
  });
});

describe('OAuth2Token', () => {
  /** A token endpoint answering tokens t1, t2, … living `lifetimeS`; `answers` replaces the next answers. */
  const endpoint = (lifetimeS: number) => {
    let issued = 0;
    const answers: CallResult[] = [];
    const pending: (() => void)[] = [];
    let hold = false;
    const fetch = async (): Promise<CallResult> => {
      if (hold) await new Promise<void>((resolve) => pending.push(resolve));
      return answers.shift() ?? tokenAnswer({ access_token: `t${++issued}`, expires_in: lifetimeS });
    };
    return {
      fetch,
      answers,
      requests: () => issued,
      hold: (on: boolean) => {
        hold = on;
        if (!on) pending.splice(0).forEach((release) => release());
      },
    };
  };

  it('keeps a token until a tenth of its lifetime before it expires, then fetches a new one', async () => {
    let now = 1_000_000;
    const server = endpoint(100);
    const token = new OAuth2Token(grant, server.fetch, () => now);
    assert.deepEqual(await token.authorization(1000), { header: 'Bearer t1' });
    now += 89_000;
    assert.equal(token.valid(), 'Bearer t1');
    assert.equal(((await token.authorization(1000)) as { header: string }).header, 'Bearer t1');
    now += 1_000; // 90 s of 100: the last tenth
    assert.equal(token.valid(), undefined);
    assert.equal(((await token.authorization(1000)) as { header: string }).header, 'Bearer t2');
    assert.equal(server.requests(), 2);
  });

  it('caps the early refresh at 30 s for long-lived tokens', async () => {
    let now = 0;
    const token = new OAuth2Token(grant, endpoint(3600).fetch, () => now);
    await token.authorization(1000);
    now = 3_569_000;
    assert.equal(((await token.authorization(1000)) as { header: string }).header, 'Bearer t1');
    now = 3_570_000;
    assert.equal(((await token.authorization(1000)) as { header: string }).header, 'Bearer t2');
  });

  it('fetches one token for calls that need one at the same time', async () => {
    const server = endpoint(60);
    const token = new OAuth2Token(grant, server.fetch);
    server.hold(true);
    const waiting = [token.authorization(1000), token.authorization(1000), token.authorization(1000)];
    server.hold(false);
    const outcomes = await Promise.all(waiting);
    assert.deepEqual(outcomes, [{ header: 'Bearer t1' }, { header: 'Bearer t1' }, { header: 'Bearer t1' }]);
    assert.equal(server.requests(), 1);
  });

  it('keeps no failure: the next call asks again', async () => {
    const server = endpoint(60);
    server.answers.push(tokenAnswer({ error: 'temporarily_unavailable' }, 503));
    const token = new OAuth2Token(grant, server.fetch);
    assert.deepEqual(await token.authorization(1000), { error: 'OAuth2 token endpoint answered 503 (temporarily_unavailable)', timedOut: false });
    assert.deepEqual(await token.authorization(1000), { header: 'Bearer t1' });
  });

  it('drops the token a 401 was answered to, once: a later 401 for the same old token changes nothing', async () => {
    const server = endpoint(60);
    const token = new OAuth2Token(grant, server.fetch);
    const first = (await token.authorization(1000)) as { header: string };
    token.invalidate(first.header);
    const second = (await token.authorization(1000)) as { header: string };
    assert.equal(second.header, 'Bearer t2');
    token.invalidate(first.header);
    assert.equal(((await token.authorization(1000)) as { header: string }).header, 'Bearer t2');
    assert.equal(server.requests(), 2);
  });
});

describe('TargetAuths', () => {
  const handler = (overrides: Partial<AuthenticatingHandler> = {}): AuthenticatingHandler => ({
    id: 1,
    updatedAt: 1,
    auth: null,
    authSecret: null,
    clientCert: null,
    clientKey: null,
    clientCa: null,
    ...overrides,
  });
  /** A transport whose agents only record that they were made and closed. */
  const transport = () => {
    const made: { closed: boolean; destroyed: boolean }[] = [];
    return {
      made,
      clientCertificateAgent: () => {
        const agent = { closed: false, destroyed: false, close: async () => void (agent.closed = true), destroy: async () => void (agent.destroyed = true) };
        made.push(agent);
        return agent as never;
      },
    };
  };
  const noFetch = async () => failedCall('no token endpoint here');

  it('builds the basic and bearer header values once per handler version', () => {
    const auths = new TargetAuths(open, transport(), noFetch);
    const basic = auths.of(handler({ auth: { type: 'basic', username: 'crm' }, authSecret: 'pä:ss' }));
    assert.equal(basic.authorization, `Basic ${Buffer.from('crm:pä:ss').toString('base64')}`);
    assert.equal(auths.of(handler({ auth: { type: 'basic', username: 'crm' }, authSecret: 'pä:ss' })), basic);
    const bearer = auths.of(handler({ updatedAt: 2, auth: { type: 'bearer' }, authSecret: 'tok' }));
    assert.equal(bearer.authorization, 'Bearer tok');
    void auths.close();
  });

  it('keeps the agent and the token across versions that do not change them, and closes a replaced agent', () => {
    const agents = transport();
    const auths = new TargetAuths(open, agents, noFetch);
    const pem = { clientCert: 'CERT', clientKey: 'KEY', clientCa: null };
    const oauth2 = { auth: { type: 'oauth2' as const, token_url: 'https://auth.example.com/token', client_id: 'c' }, authSecret: 's' };
    const first = auths.of(handler({ ...pem, ...oauth2 }));
    const renamed = auths.of(handler({ updatedAt: 2, ...pem, ...oauth2 }));
    assert.equal(agents.made.length, 1);
    assert.equal(renamed.agent, first.agent);
    assert.equal(renamed.oauth2, first.oauth2);
    const newSecret = auths.of(handler({ updatedAt: 3, ...pem, ...oauth2, authSecret: 's2' }));
    assert.notEqual(newSecret.oauth2, first.oauth2);
    assert.equal(newSecret.agent, first.agent);
    const newCertificate = auths.of(handler({ updatedAt: 4, ...pem, clientCert: 'CERT2', ...oauth2 }));
    assert.equal(agents.made.length, 2);
    assert.notEqual(newCertificate.agent, first.agent);
    assert.equal(agents.made[0]!.closed, true, 'the replaced agent is closed');
    assert.equal(agents.made[1]!.closed, false);
    // A call that still holds an older copy of the handler gets the newest credentials.
    assert.equal(auths.of(handler({ updatedAt: 2, ...pem, ...oauth2 })), newCertificate);
    void auths.close();
  });

  it('lets go of idle entries and closes their agents; closing ends every agent', async () => {
    let now = 0;
    const agents = transport();
    const auths = new TargetAuths(open, agents, noFetch, () => now);
    auths.of(handler({ id: 1, clientCert: 'A', clientKey: 'K' }));
    now = 1000;
    auths.of(handler({ id: 2, clientCert: 'B', clientKey: 'K' }));
    auths.sweep(500);
    assert.deepEqual(agents.made.map((agent) => agent.closed), [true, false]);
    await auths.close();
    assert.equal(agents.made[1]!.destroyed, true);
  });

  it('judges the token URL again at call time: an address the policy now refuses makes the handler unusable', () => {
    const strict = new NetworkPolicy({ mode: 'strict', allow: [], deny: [...DEFAULT_DENIED_NETWORKS] });
    const auths = new TargetAuths(strict, transport(), noFetch);
    const refused = auths.of(handler({ auth: { type: 'oauth2', token_url: 'http://10.1.2.3/token', client_id: 'c' }, authSecret: 's' }));
    assert.match(refused.unusable ?? '', /^the OAuth2 token URL's address 10\.1\.2\.3 may not be called/);
    assert.equal(refused.oauth2, undefined);
    void auths.close();
  });

  it('asks nothing of a handler without credentials', () => {
    assert.equal(authenticates({ auth: null, clientCert: null }), false);
    assert.equal(authenticates({} as Pick<HandlerEntity, 'auth' | 'clientCert'>), false);
    assert.equal(authenticates({ auth: { type: 'bearer' }, clientCert: null }), true);
    assert.equal(authenticates({ auth: null, clientCert: 'CERT' }), true);
  });
});

describe('the Authorization header of a call', () => {
  it('is the auth\'s value, next to the signature headers', () => {
    const headers = webhookHeaders({ type: 'http', task: 'x', headers: { 'X-Tenant': 'n' }, signingSecret: null, previousSecret: null, previousSecretExpiresAt: null }, 'msg_1', '{}', 0, 'Bearer t');
    assert.equal(headers.authorization, 'Bearer t');
    assert.equal(headers['x-tenant'], 'n');
    assert.equal(headers['webhook-id'], 'msg_1');
    assert.equal('authorization' in webhookHeaders({ type: 'http', task: 'x', headers: {}, signingSecret: null, previousSecret: null, previousSecretExpiresAt: null }, 'msg_1', '{}', 0), false);
  });
});

describe('target credentials at save', () => {
  const refusal = (work: () => unknown) => {
    try {
      work();
    } catch (error) {
      assert.ok(error instanceof DomainError);
      return { code: error.code, fields: error.details.map((detail) => detail.field) };
    }
    return assert.fail('no refusal');
  };

  it('takes the fields of the kind only, each required one present, the secret given or kept', () => {
    assert.deepEqual(authFromInput({ type: 'oauth2', token_url: 'https://a/t', client_id: 'c', client_secret: 's', scope: 'x' }, NO_CREDENTIALS), {
      auth: { type: 'oauth2', token_url: 'https://a/t', client_id: 'c', scope: 'x' },
      authSecret: 's',
    });
    assert.deepEqual(refusal(() => authFromInput({ type: 'basic', password: 'p', token: 't' }, NO_CREDENTIALS)), { code: 'VALIDATION_FAILED', fields: ['auth.token', 'auth.username'] });
    const stored = { ...NO_CREDENTIALS, auth: { type: 'basic' as const, username: 'u' }, authSecret: 'kept' };
    assert.deepEqual(authFromInput({ type: 'basic', username: 'v' }, stored), { auth: { type: 'basic', username: 'v' }, authSecret: 'kept' });
    assert.deepEqual(refusal(() => authFromInput({ type: 'bearer' }, stored)), { code: 'VALIDATION_FAILED', fields: ['auth.token'] });
  });

  it('refuses credentials on a script handler, and a token URL that is not a plain http(s) URL', () => {
    const script = { type: 'script', headers: {}, auth: { type: 'bearer' }, clientCert: null } as unknown as HandlerEntity;
    assert.deepEqual(refusal(() => assertValidCredentials(script, open)), { code: 'VALIDATION_FAILED', fields: ['auth'] });
    for (const url of ['auth.example.com/t', 'ftp://a/t', 'https://u:p@a/t', 'https://a/t#x', 'https:// a/t', 'https://']) {
      assert.deepEqual(refusal(() => parseTokenUrl(url)), { code: 'INVALID_TOKEN_URL', fields: ['auth.token_url'] }, url);
    }
    assert.equal(parseTokenUrl('https://auth.example.com:8443/oauth/token?tenant=1').toString(), 'https://auth.example.com:8443/oauth/token?tenant=1');
  });
});
