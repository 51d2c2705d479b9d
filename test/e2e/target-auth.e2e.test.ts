import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { eventually, type Received } from '../utils/receiver.js';
import { pemCore, ThrowawayCa } from '../utils/throwaway-ca.js';

/**
 * Authenticated targets, each kind against a real counterpart started here: basic and bearer
 * receivers that check the Authorization header, a local OAuth2 token endpoint whose tokens
 * expire during the test, and an HTTPS receiver that demands a client certificate of a
 * throwaway CA. Credentials are refused at save with their codes, and appear in no answer.
 */
const ca = ThrowawayCa.make();
const basicHeader = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

interface TlsRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The common name of the client certificate the connection presented. */
  peer: string | null;
}

/** An HTTPS receiver on 127.0.0.1 that completes no TLS handshake without a client certificate of the throwaway CA. */
async function startTlsReceiver(authorization?: string) {
  const requests: TlsRequest[] = [];
  let refusedHandshakes = 0;
  const server = createServer({ key: ca.server.key, cert: ca.server.cert, ca: ca.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    req.resume();
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, peer: typeof peer?.subject?.CN === 'string' ? peer.subject.CN : null });
      const ok = authorization === undefined || req.headers.authorization === authorization;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '{"ok":true}' : '{"ok":false}');
    });
  });
  server.on('tlsClientError', () => {
    refusedHandshakes += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    requests,
    port,
    refusedHandshakes: () => refusedHandshakes,
    task: (path = '/hook') => `127.0.0.1:${port}${path}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A local OAuth2 token endpoint (client credentials, client authenticated with HTTP basic) whose tokens live `lifetimeS` seconds. */
function tokenEndpoint(clientId: string, clientSecret: string, lifetimeS: number) {
  const issued: { token: string; at: number }[] = [];
  const grants: URLSearchParams[] = [];
  const responder = (request: Received) => {
    const form = new URLSearchParams(request.body);
    grants.push(form);
    if (request.headers.authorization !== basicHeader(clientId, clientSecret)) {
      return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: `client ${clientId} is unknown or its secret is wrong` }) };
    }
    if (form.get('grant_type') !== 'client_credentials' || request.headers['content-type'] !== 'application/x-www-form-urlencoded') {
      return { status: 400, body: JSON.stringify({ error: 'unsupported_grant_type' }) };
    }
    const token = `at_${randomBytes(18).toString('hex')}`;
    issued.push({ token, at: Date.now() });
    return { status: 200, body: JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: lifetimeS }) };
  };
  /** Whether `header` carries the newest token, and that token has not expired. */
  const valid = (header: string | undefined) => {
    const newest = issued.at(-1);
    return newest !== undefined && header === `Bearer ${newest.token}` && Date.now() < newest.at + lifetimeS * 1000;
  };
  return { issued, grants, responder, valid };
}

forEachDatabase('authenticated targets', { env: { DISPATCH_POLL_INTERVAL_MS: '50', RETRY_SCHEDULE: '300ms' } }, (t) => {
  let admin: Record<string, string>;
  /** Every answer of the API in this suite, searched for every credential at the end. */
  const answers: string[] = [];
  /** Every credential given to the service or issued to it. */
  const secrets = new Map<string, string>();
  let objectId = 100;

  before(() => {
    admin = bearer(t.adminKey);
  });

  const api = async (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: unknown) => {
    const request = t.http[method](path).set(admin);
    const response = body === undefined ? await request : await request.send(body as object);
    answers.push(response.text);
    return response;
  };
  const createHandler = async (body: Record<string, unknown>) => {
    const response = await api('post', '/api/v1/handlers', { retry_limit: 0, ...body });
    assert.equal(response.status, 201, response.text);
    return response.body as { id: number; auth: Record<string, unknown> | null; client_certificate: Record<string, unknown> | null };
  };
  /** Posts one event and answers its log rows once `rows` are there, oldest first. */
  const deliver = async (event: string, rows = 1) => {
    const posted = await api('post', '/api/v1/events', { event, object_id: ++objectId });
    assert.equal(posted.status, 202, posted.text);
    return eventually(async () => {
      const logs = await api('get', `/api/v1/execution-logs?event_id=${posted.body.id}`);
      return logs.body.items.length >= rows ? [...logs.body.items].reverse() : undefined;
    }, 15_000, `${rows} log rows of ${event}`);
  };

  it('HTTP basic: the receiver gets the header; the answers show the username, never the password', async () => {
    const password = `pw:${randomBytes(12).toString('hex')}`;
    secrets.set('basic password', password);
    secrets.set('basic header', basicHeader('crm-user', password).slice(6));
    const receiver = await t.receiver((request) => ({ status: request.headers.authorization === basicHeader('crm-user', password) ? 200 : 401 }));
    const handler = await createHandler({ name: 'basic', event: 'dids.create', type: 'http', task: receiver.task(), auth: { type: 'basic', username: 'crm-user', password } });
    assert.deepEqual(handler.auth, { type: 'basic', username: 'crm-user', has_secret: true });
    assert.equal(handler.client_certificate, null);

    const [log] = await deliver('dids.create');
    assert.equal(log.status, 'success', log.error);
    assert.equal(receiver.requests[0]!.headers.authorization, basicHeader('crm-user', password));

    // An edit of the public part keeps the stored password (answers never show it to send back).
    const renamed = await api('patch', `/api/v1/handlers/${handler.id}`, { name: 'basic renamed', auth: { type: 'basic', username: 'crm-user' } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.deepEqual(renamed.body.auth, { type: 'basic', username: 'crm-user', has_secret: true });
    const [again] = await deliver('dids.create');
    assert.equal(again.status, 'success', again.error);

    // A change of kind needs the new kind's secret; null removes the auth.
    const missing = await api('patch', `/api/v1/handlers/${handler.id}`, { auth: { type: 'bearer' } });
    assert.equal(missing.status, 400, missing.text);
    assert.equal(missing.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(missing.body.details.map((d: { field: string }) => d.field), ['auth.token']);
    const removed = await api('patch', `/api/v1/handlers/${handler.id}`, { auth: null });
    assert.equal(removed.body.auth, null);
    const [plain] = await deliver('dids.create');
    assert.equal(plain.status, 'fail');
    assert.equal(plain.response_code, 401);
    assert.equal(receiver.requests.at(-1)!.headers.authorization, undefined);
  });

  it('bearer: the receiver gets the token, also from a test send and a before decision', async () => {
    const token = `tok_${randomBytes(20).toString('hex')}`;
    secrets.set('bearer token', token);
    const receiver = await t.receiver((request) => ({ status: request.headers.authorization === `Bearer ${token}` ? 200 : 401, body: '{}' }));
    const handler = await createHandler({ name: 'bearer', event: 'dids.update', type: 'http', task: receiver.task(), auth: { type: 'bearer', token } });
    assert.deepEqual(handler.auth, { type: 'bearer', has_secret: true });
    const [log] = await deliver('dids.update');
    assert.equal(log.status, 'success', log.error);

    const sent = await api('post', `/api/v1/handlers/${handler.id}/test`, {});
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.body.status, 'success', sent.body.error);

    const gate = await createHandler({ name: 'bearer gate', event: 'clients.delete', type: 'http', stage: 'before', task: receiver.task('/gate'), auth: { type: 'bearer', token } });
    const decided = await api('post', '/api/v1/events/decide', { event: 'clients.delete', object_id: 7 });
    assert.equal(decided.status, 200, decided.text);
    assert.equal(decided.body.allowed, true, JSON.stringify(decided.body));
    assert.equal(decided.body.calls[0].handler_id, gate.id);
    assert.equal(decided.body.calls[0].response_code, 200);
    assert.equal(receiver.requests.length, 3);
    assert.ok(receiver.requests.every((request) => request.headers.authorization === `Bearer ${token}`));
  });

  it('OAuth2 client credentials: one token while it lasts, a new one after it expires or after a 401', async () => {
    const clientSecret = `cs_${randomBytes(20).toString('hex')}`;
    secrets.set('oauth2 client secret', clientSecret);
    const endpoint = tokenEndpoint('provisioning', clientSecret, 4);
    const tokens = await t.receiver(endpoint.responder);
    let refuseNext = false;
    const receiver = await t.receiver((request) => {
      if (refuseNext) {
        refuseNext = false;
        return { status: 401 };
      }
      return { status: endpoint.valid(request.headers.authorization as string | undefined) ? 200 : 401 };
    });
    const handler = await createHandler({
      name: 'oauth2',
      event: 'dids.activate',
      type: 'http',
      task: receiver.task(),
      retry_limit: 1,
      auth: { type: 'oauth2', token_url: `http://${tokens.task('/oauth/token')}`, client_id: 'provisioning', client_secret: clientSecret, scope: 'webhooks:write', audience: 'https://crm.example' },
    });
    assert.deepEqual(handler.auth, {
      type: 'oauth2',
      token_url: `http://${tokens.task('/oauth/token')}`,
      client_id: 'provisioning',
      scope: 'webhooks:write',
      audience: 'https://crm.example',
      has_secret: true,
    });

    // The first delivery fetches a token; the second, right after, uses the same one.
    const [first] = await deliver('dids.activate');
    const [second] = await deliver('dids.activate');
    assert.equal(first.status, 'success', first.error);
    assert.equal(second.status, 'success', second.error);
    assert.equal(tokens.requests.length, 1);
    assert.equal(endpoint.grants[0]!.get('scope'), 'webhooks:write');
    assert.equal(endpoint.grants[0]!.get('audience'), 'https://crm.example');
    assert.equal(receiver.requests[0]!.headers.authorization, `Bearer ${endpoint.issued[0]!.token}`);
    assert.equal(receiver.requests[1]!.headers.authorization, `Bearer ${endpoint.issued[0]!.token}`);

    // The token expires (4 s): the next delivery fetches a new one.
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    const [third] = await deliver('dids.activate');
    assert.equal(third.status, 'success', third.error);
    assert.equal(tokens.requests.length, 2);
    assert.equal(receiver.requests[2]!.headers.authorization, `Bearer ${endpoint.issued[1]!.token}`);

    // The target answers 401: that token is dropped and the retry fetches a new one.
    refuseNext = true;
    const [refused, retried] = await deliver('dids.activate', 2);
    assert.equal(refused.status, 'fail');
    assert.equal(refused.response_code, 401);
    assert.equal(retried.status, 'success', retried.error);
    assert.equal(retried.attempt, 2);
    assert.equal(tokens.requests.length, 3);
    assert.equal(receiver.requests.at(-1)!.headers.authorization, `Bearer ${endpoint.issued[2]!.token}`);
    for (const { token } of endpoint.issued) secrets.set(`issued access token ${token.slice(0, 8)}`, token);
  });

  it('OAuth2: a token that cannot be had is a failed call with a clear error, retried, and the target is never called', async () => {
    const wrongSecret = `wrong_${randomBytes(20).toString('hex')}`;
    secrets.set('wrong oauth2 client secret', wrongSecret);
    const endpoint = tokenEndpoint('provisioning', 'the-right-secret-0123456789', 60);
    const tokens = await t.receiver(endpoint.responder);
    const receiver = await t.receiver(() => ({ status: 200 }));
    await createHandler({
      name: 'oauth2 refused',
      event: 'dids.block',
      type: 'http',
      task: receiver.task(),
      retry_limit: 1,
      auth: { type: 'oauth2', token_url: `http://${tokens.task('/oauth/token')}`, client_id: 'provisioning', client_secret: wrongSecret },
    });
    const rows = await deliver('dids.block', 2);
    assert.deepEqual(rows.map((row: { attempt: number }) => row.attempt), [1, 2]);
    for (const row of rows) {
      assert.equal(row.status, 'fail');
      assert.equal(row.response_code, null);
      assert.equal(row.error, 'authentication failed: OAuth2 token endpoint answered 401 (invalid_client)');
    }
    assert.equal(tokens.requests.length, 2);
    assert.equal(receiver.requests.length, 0);

    // A token endpoint that cannot be reached reads as plainly.
    const closed = await t.receiver(() => ({ status: 200 }));
    const task = closed.task('/oauth/token');
    await closed.stop();
    await createHandler({ name: 'oauth2 down', event: 'dids.reserve', type: 'http', task: receiver.task(), auth: { type: 'oauth2', token_url: `http://${task}`, client_id: 'provisioning', client_secret: wrongSecret } });
    const [down] = await deliver('dids.reserve');
    assert.equal(down.error, 'authentication failed: OAuth2 token request failed: connection refused');
  });

  it('mTLS: the HTTPS receiver gets the client certificate; without a valid one the call fails', async () => {
    const server = await startTlsReceiver();
    t.cleanup(server.stop);
    secrets.set('client key', pemCore(ca.client.key));
    secrets.set('other client key', pemCore(ca.otherClient.key));
    secrets.set('rogue client key', pemCore(ca.rogueClient.key));

    // The receiver itself refuses a connection that presents no certificate.
    const bare = await new Promise<string>((resolve) => {
      const request = httpsGet({ host: '127.0.0.1', port: server.port, path: '/', ca: ca.ca.cert }, (response) => resolve(`answered ${response.statusCode}`));
      request.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code ?? error.message}`));
    });
    assert.match(bare, /^error /, `a connection without a client certificate was ${bare}`);

    const handler = await createHandler({
      name: 'mtls',
      event: 'dids.hold',
      type: 'https',
      task: server.task('/mtls'),
      client_certificate: { cert: ca.client.cert, key: ca.client.key, ca: ca.ca.cert },
    });
    assert.equal(handler.auth, null);
    const shown = handler.client_certificate!;
    assert.equal(shown.subject, 'CN=provisioning-client');
    assert.equal(shown.issuer, 'CN=Throwaway test CA');
    assert.equal(shown.has_key, true);
    assert.equal(shown.has_ca, true);
    assert.match(String(shown.valid_to), /^\d{4}-\d\d-\d\dT/);
    assert.match(String(shown.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

    const [log] = await deliver('dids.hold');
    assert.equal(log.status, 'success', log.error);
    assert.equal(server.requests.at(-1)!.peer, 'provisioning-client');

    // A new certificate (the key left out is refused: the stored one is not the new certificate's), then the right pair: the next call presents it.
    const mismatch = await api('patch', `/api/v1/handlers/${handler.id}`, { client_certificate: { cert: ca.otherClient.cert, ca: ca.ca.cert } });
    assert.equal(mismatch.status, 400, mismatch.text);
    assert.equal(mismatch.body.code, 'CLIENT_KEY_MISMATCH');
    const replaced = await api('patch', `/api/v1/handlers/${handler.id}`, { client_certificate: { cert: ca.otherClient.cert, key: ca.otherClient.key, ca: ca.ca.cert } });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.body.client_certificate.subject, 'CN=provisioning-client-2');
    const [after] = await deliver('dids.hold');
    assert.equal(after.status, 'success', after.error);
    assert.equal(server.requests.at(-1)!.peer, 'provisioning-client-2');

    // A certificate of another CA: the receiver refuses the handshake, nothing is delivered.
    const served = server.requests.length;
    const refusedBefore = server.refusedHandshakes();
    await createHandler({ name: 'rogue', event: 'dids.archive', type: 'https', task: server.task('/rogue'), client_certificate: { cert: ca.rogueClient.cert, key: ca.rogueClient.key, ca: ca.ca.cert } });
    const [rogue] = await deliver('dids.archive');
    assert.equal(rogue.status, 'fail');
    assert.equal(rogue.response_code, null);
    assert.ok(rogue.error, 'the failure says why');

    // No certificate at all: the call fails too (and the system CAs do not know this server).
    await createHandler({ name: 'no certificate', event: 'dids.stock', type: 'https', task: server.task('/none') });
    const [none] = await deliver('dids.stock');
    assert.equal(none.status, 'fail');
    assert.equal(none.response_code, null);
    assert.equal(server.requests.length, served, 'the receiver served a call without a valid client certificate');
    assert.ok(server.refusedHandshakes() > refusedBefore, 'the receiver refused the handshake of the certificate of another CA');
  });

  it('mTLS with a header kind: both are sent', async () => {
    const password = `both_${randomBytes(12).toString('hex')}`;
    secrets.set('password sent with a certificate', password);
    const server = await startTlsReceiver(basicHeader('gateway', password));
    t.cleanup(server.stop);
    const handler = await createHandler({
      name: 'mtls and basic',
      event: 'clients.create',
      type: 'https',
      task: server.task('/both'),
      auth: { type: 'basic', username: 'gateway', password },
      client_certificate: { cert: ca.client.cert, key: ca.client.key, ca: ca.ca.cert },
    });
    assert.deepEqual(handler.auth, { type: 'basic', username: 'gateway', has_secret: true });
    assert.equal(handler.client_certificate!.subject, 'CN=provisioning-client');
    const [log] = await deliver('clients.create');
    assert.equal(log.status, 'success', log.error);
    assert.equal(server.requests.at(-1)!.peer, 'provisioning-client');
    assert.equal(server.requests.at(-1)!.headers.authorization, basicHeader('gateway', password));
  });

  it('refuses invalid credentials at save with their codes, and stores nothing', async () => {
    const base = { name: 'invalid', event: 'accounting.charges.create', type: 'https', task: '127.0.0.1:9/x' };
    const certificate = { cert: ca.client.cert, key: ca.client.key };
    const cases: [string, Record<string, unknown>, string, string][] = [
      ['basic without its password', { auth: { type: 'basic', username: 'u' } }, 'VALIDATION_FAILED', 'auth.password'],
      ['basic with a colon in the username', { auth: { type: 'basic', username: 'a:b', password: 'p' } }, 'VALIDATION_FAILED', 'auth.username'],
      ['bearer with a field of another kind', { auth: { type: 'bearer', token: 't', username: 'u' } }, 'VALIDATION_FAILED', 'auth.username'],
      ['a token with a line break', { auth: { type: 'bearer', token: 'a\r\nX-Injected: 1' } }, 'VALIDATION_FAILED', 'auth.token'],
      ['an unknown kind', { auth: { type: 'digest', token: 't' } }, 'VALIDATION_FAILED', 'auth.type'],
      ['an unknown auth field', { auth: { type: 'bearer', token: 't', realm: 'x' } }, 'VALIDATION_FAILED', 'auth.realm'],
      ['oauth2 without a client id', { auth: { type: 'oauth2', token_url: 'https://auth.example.com/token', client_secret: 's' } }, 'VALIDATION_FAILED', 'auth.client_id'],
      ['a token URL without a scheme', { auth: { type: 'oauth2', token_url: 'auth.example.com/token', client_id: 'c', client_secret: 's' } }, 'INVALID_TOKEN_URL', 'auth.token_url'],
      ['a token URL of another scheme', { auth: { type: 'oauth2', token_url: 'ftp://auth.example.com/token', client_id: 'c', client_secret: 's' } }, 'INVALID_TOKEN_URL', 'auth.token_url'],
      ['a token URL with credentials', { auth: { type: 'oauth2', token_url: 'https://u:p@auth.example.com/token', client_id: 'c', client_secret: 's' } }, 'INVALID_TOKEN_URL', 'auth.token_url'],
      ['a token URL the outbound policy refuses', { auth: { type: 'oauth2', token_url: 'http://169.254.169.254/token', client_id: 'c', client_secret: 's' } }, 'TARGET_FORBIDDEN', 'auth.token_url'],
      ['a custom Authorization header with auth', { headers: { Authorization: 'Bearer x' }, auth: { type: 'bearer', token: 't' } }, 'VALIDATION_FAILED', 'headers.Authorization'],
      ['a client certificate on an http handler', { type: 'http', client_certificate: certificate }, 'CLIENT_CERTIFICATE_NEEDS_HTTPS', 'client_certificate'],
      ['a certificate that is not PEM', { client_certificate: { cert: 'not a certificate', key: ca.client.key } }, 'INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert'],
      ['a broken certificate', { client_certificate: { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', key: ca.client.key } }, 'INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert'],
      ['a key pasted with the certificate', { client_certificate: { cert: ca.client.cert + ca.client.key, key: ca.client.key } }, 'INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert'],
      ['an expired certificate', { client_certificate: { cert: ca.expiredClient.cert, key: ca.expiredClient.key } }, 'INVALID_CLIENT_CERTIFICATE', 'client_certificate.cert'],
      ['a certificate without its key', { client_certificate: { cert: ca.client.cert } }, 'VALIDATION_FAILED', 'client_certificate.key'],
      ['a key that is not PEM', { client_certificate: { cert: ca.client.cert, key: 'not a key' } }, 'INVALID_CLIENT_KEY', 'client_certificate.key'],
      ['an encrypted key', { client_certificate: { cert: ca.client.cert, key: ca.encryptedClientKey } }, 'INVALID_CLIENT_KEY', 'client_certificate.key'],
      ['the key of another certificate', { client_certificate: { cert: ca.client.cert, key: ca.otherClient.key } }, 'CLIENT_KEY_MISMATCH', 'client_certificate.key'],
      ['a CA that is not PEM', { client_certificate: { ...certificate, ca: 'not a CA' } }, 'INVALID_CA_CERTIFICATE', 'client_certificate.ca'],
      ['a CA holding a key', { client_certificate: { ...certificate, ca: ca.ca.cert + ca.client.key } }, 'INVALID_CA_CERTIFICATE', 'client_certificate.ca'],
      ['a certificate that is not an object', { client_certificate: 'PEM' }, 'VALIDATION_FAILED', 'client_certificate'],
    ];
    const before = (await api('get', '/api/v1/handlers?per_page=100')).body.total;
    for (const [what, fields, code, field] of cases) {
      const response = await api('post', '/api/v1/handlers', { ...base, ...fields });
      assert.equal(response.status, 400, `${what}: ${response.text}`);
      assert.equal(response.body.code, code, `${what}: ${response.text}`);
      assert.ok(
        response.body.details.some((detail: { field: string }) => detail.field === field),
        `${what}: details name ${field}: ${JSON.stringify(response.body.details)}`,
      );
      assert.ok(!response.text.includes(pemCore(ca.client.key)), `${what}: the error body holds the key`);
    }
    assert.equal((await api('get', '/api/v1/handlers?per_page=100')).body.total, before, 'a refused handler was stored');

    // The same rules on an edit, which changes nothing either.
    const handler = await createHandler({ ...base, name: 'valid' });
    const edit = await api('patch', `/api/v1/handlers/${handler.id}`, { client_certificate: { cert: ca.client.cert, key: ca.otherClient.key } });
    assert.equal(edit.status, 400);
    assert.equal(edit.body.code, 'CLIENT_KEY_MISMATCH');
    assert.equal((await api('get', `/api/v1/handlers/${handler.id}`)).body.client_certificate, null);
  });

  it('shows no credential in any handler view, list, execution log row or answer', async () => {
    assert.ok(secrets.size >= 10, `credentials to look for: ${[...secrets.keys()].join(', ')}`);
    const list = await api('get', '/api/v1/handlers?per_page=100');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((item: { auth: unknown }) => item.auth !== null));
    assert.ok(list.body.items.some((item: { client_certificate: unknown }) => item.client_certificate !== null));
    for (const item of list.body.items) await api('get', `/api/v1/handlers/${item.id}`);
    let cursor: string | null = null;
    let rows = 0;
    do {
      const page = await api('get', `/api/v1/execution-logs?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, page.text);
      for (const item of page.body.items) {
        rows++;
        await api('get', `/api/v1/execution-logs/${item.id}`);
      }
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.ok(rows >= 15, `execution log rows: ${rows}`);
    assert.ok(answers.length > 100, `answers: ${answers.length}`);
    for (const [name, secret] of secrets) {
      assert.ok(secret.length >= 16, `${name} is a real secret`);
      const holding = answers.filter((answer) => answer.includes(secret));
      assert.equal(holding.length, 0, `${name} appears in ${holding.length} answers, e.g. ${holding[0]?.slice(0, 200)}`);
    }
  });
});
