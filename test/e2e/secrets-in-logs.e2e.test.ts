import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { api, killAll, Running, startService, stopService, tail } from '../utils/service-process.js';
import { buildDataSourceOptions } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';
import { pemCore, ThrowawayCa } from '../utils/throwaway-ca.js';

/**
 * A full run of the compiled service at the most verbose JSON log level: keys created, used,
 * mistyped and revoked; handlers with signing secrets and a credential header, a secret
 * rotation; handlers with target credentials (basic, bearer, OAuth2 with the tokens it is
 * issued, an mTLS key); deliveries that succeed, fail and retry; malformed and invalid
 * requests carrying secrets. Then every log line, every error body, every handler view, every
 * row of the audit table and every answer of the audit API is searched for every secret: none
 * found.
 */
const kinds = await databaseKinds();
const ca = ThrowawayCa.make();

for (const kind of kinds) {
  describe(`no secret in any log line or error body [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dir: string;
    let service: Running | undefined;
    let receiver: TestReceiver;
    let tokenEndpoint: TestReceiver;
    /** Access tokens the OAuth2 endpoint issued: secrets too. */
    const issued: string[] = [];

    before(async () => {
      db = await kind.create();
      dir = mkdtempSync(join(tmpdir(), 'prov-secrets-'));
      // Odd calls fail with 500, so failures, retries and their log lines happen too.
      receiver = await new TestReceiver((_request, index) => ({ status: index % 2 === 0 ? 200 : 500, body: '{"ok":false}' })).start();
      // Tokens that expire at once, so every call asks for one; every third request is refused with an error
      // description that echoes the client's credentials, which must not reach a log.
      tokenEndpoint = await new TestReceiver((request, index) => {
        if (index % 3 === 2) {
          return { status: 401, body: JSON.stringify({ error: 'invalid_client', error_description: `refused ${request.headers.authorization}` }) };
        }
        const token = `at_${randomBytes(20).toString('hex')}`;
        issued.push(token);
        return { status: 200, body: JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 0.001 }) };
      }).start();
    });
    after(async () => {
      await killAll();
      await receiver?.stop();
      await tokenEndpoint?.stop();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('scans the whole output and every error body for every API key and signing secret', { timeout: 90_000 }, async () => {
      const adminKey = `adm_${randomBytes(24).toString('hex')}`;
      const secretsKey = randomBytes(32).toString('base64');
      service = await startService('secrets', dir, {
        DATABASE_URL: db.url,
        BOOTSTRAP_ADMIN_KEY: adminKey,
        SECRETS_KEY: secretsKey,
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'verbose',
        RETRY_SCHEDULE: '100ms',
        DISPATCH_POLL_INTERVAL_MS: '50',
      });
      const secrets = new Map<string, string>([
        ['bootstrap admin key', adminKey],
        ['key of secrets at rest', secretsKey],
      ]);
      const errorBodies: { what: string; text: string }[] = [];
      const expectError = async (what: string, response: Promise<{ status: number; text: string }>, status: number) => {
        const result = await response;
        assert.equal(result.status, status, `${what}: ${result.text}`);
        errorBodies.push({ what, text: result.text });
      };

      // Keys: created, used, mistyped, sent in the wrong scheme, revoked and used again.
      const created: Record<string, { id: number; key: string }> = {};
      // Internal keys come only from the host or from an internal key (see test/e2e/internal-keys.e2e.test.ts).
      for (const scope of ['events', 'read']) {
        const response = await api(service, adminKey, 'POST', '/api/v1/api-keys', { name: `k-${scope}`, scopes: [scope] });
        assert.equal(response.status, 201, response.text);
        created[scope] = { id: response.body.id, key: response.body.key };
        secrets.set(`${scope} key`, response.body.key);
      }
      const wrongKey = `${adminKey.slice(0, -1)}${adminKey.endsWith('0') ? '1' : '0'}`;
      secrets.set('mistyped admin key', wrongKey);
      await expectError('unknown key', api(service, wrongKey, 'GET', '/api/v1/handlers'), 401);
      const basic = await fetch(`${service.baseUrl}/api/v1/handlers`, { headers: { Authorization: `Basic ${adminKey}` } });
      assert.equal(basic.status, 401);
      errorBodies.push({ what: 'wrong scheme', text: await basic.text() });
      await expectError('scope forbidden', api(service, created.events!.key, 'GET', '/api/v1/handlers'), 403);
      await expectError('admin minting internal', api(service, adminKey, 'POST', '/api/v1/api-keys', { name: 'x', scopes: ['internal'] }), 403);
      assert.equal((await api(service, adminKey, 'DELETE', `/api/v1/api-keys/${created.read!.id}`)).status, 204);
      await expectError('revoked key', api(service, created.read!.key, 'GET', '/api/v1/handlers'), 401);

      // Handlers with signing secrets and a credential header; a rotation.
      const credential = `tok_${randomBytes(20).toString('hex')}`;
      secrets.set('handler credential header', credential);
      const handlerIds: number[] = [];
      for (const priority of [1, 2]) {
        const response = await api(service, adminKey, 'POST', '/api/v1/handlers', {
          name: `h${priority}`,
          event: 'clients.update',
          type: 'http',
          task: receiver.task(`/h${priority}`),
          priority,
          retry_limit: 1,
          headers: { Authorization: `Bearer ${credential}`, 'X-Api-Key': credential },
        });
        assert.equal(response.status, 201, response.text);
        secrets.set(`signing secret of h${priority}`, response.body.signing_secret);
        handlerIds.push(response.body.id);
      }
      const rotated = await api(service, adminKey, 'POST', `/api/v1/handlers/${handlerIds[0]}/rotate-secret`);
      assert.equal(rotated.status, 200, rotated.text);
      secrets.set('rotated signing secret', rotated.body.signing_secret);
      // A reveal, and an edit that keeps the masked credential headers: both audited.
      assert.equal((await api(service, adminKey, 'GET', `/api/v1/handlers/${handlerIds[0]}/secret`)).status, 200);
      const edited = await api(service, adminKey, 'PATCH', `/api/v1/handlers/${handlerIds[1]}`, { name: 'h2 renamed', headers: { Authorization: '********', 'X-Api-Key': '********', 'X-Tenant': 'north' } });
      assert.equal(edited.status, 200, edited.text);

      // Handlers with target credentials: basic, bearer, OAuth2, an mTLS client certificate.
      const password = `pw_${randomBytes(16).toString('hex')}`;
      const token = `bt_${randomBytes(20).toString('hex')}`;
      const clientSecret = `cs_${randomBytes(20).toString('hex')}`;
      const newClientSecret = `cs2_${randomBytes(20).toString('hex')}`;
      secrets.set('target basic password', password);
      secrets.set('target basic header', Buffer.from(`crm:${password}`).toString('base64'));
      secrets.set('target bearer token', token);
      secrets.set('OAuth2 client secret', clientSecret);
      secrets.set('OAuth2 client secret after an edit', newClientSecret);
      secrets.set('OAuth2 client header', Buffer.from(`provisioning:${clientSecret}`).toString('base64'));
      secrets.set('mTLS client key', pemCore(ca.client.key));
      // One event each: a chain of several handlers per event, each failing and retrying, is not what this test is about.
      const credentialed: Record<string, unknown>[] = [
        { name: 'h-basic', event: 'dids.create', type: 'http', task: receiver.task('/basic'), auth: { type: 'basic', username: 'crm', password } },
        { name: 'h-bearer', event: 'dids.update', type: 'http', task: receiver.task('/bearer'), auth: { type: 'bearer', token } },
        {
          name: 'h-oauth2',
          event: 'dids.activate',
          type: 'http',
          task: receiver.task('/oauth2'),
          auth: { type: 'oauth2', token_url: `http://${tokenEndpoint.task('/token')}`, client_id: 'provisioning', client_secret: clientSecret },
        },
        // An https handler whose target speaks plain HTTP: every attempt fails in the TLS handshake.
        { name: 'h-mtls', event: 'dids.block', type: 'https', task: receiver.task('/mtls'), client_certificate: { cert: ca.client.cert, key: ca.client.key, ca: ca.ca.cert } },
      ];
      const views: { what: string; text: string }[] = [];
      for (const fields of credentialed) {
        const response = await api(service, adminKey, 'POST', '/api/v1/handlers', { retry_limit: 1, ...fields });
        assert.equal(response.status, 201, response.text);
        views.push({ what: `created ${String(fields.name)}`, text: response.text });
      }
      const oauthId = JSON.parse(views[2]!.text).id as number;
      const editedAuth = await api(service, adminKey, 'PATCH', `/api/v1/handlers/${oauthId}`, {
        auth: { type: 'oauth2', token_url: `http://${tokenEndpoint.task('/token')}`, client_id: 'provisioning', client_secret: newClientSecret },
      });
      assert.equal(editedAuth.status, 200, editedAuth.text);
      views.push({ what: 'edited h-oauth2', text: editedAuth.text });
      await expectError(
        'a key of another certificate',
        api(service, adminKey, 'POST', '/api/v1/handlers', {
          name: 'z',
          event: 'clients.update',
          type: 'https',
          task: receiver.task(),
          client_certificate: { cert: ca.otherClient.cert, key: ca.client.key },
        }),
        400,
      );
      await expectError(
        'a bearer token that is not allowed',
        api(service, adminKey, 'POST', '/api/v1/handlers', { name: 'z', event: 'clients.update', type: 'http', task: receiver.task(), auth: { type: 'bearer', token: `${token}\n` } }),
        400,
      );

      // Bad input that carries secrets.
      const malformed = await fetch(`${service.baseUrl}/api/v1/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
        body: `{"event": "clients.update", "object_id": 1, "data": {"token": "${credential}"`,
      });
      assert.equal(malformed.status, 400);
      errorBodies.push({ what: 'malformed JSON', text: await malformed.text() });
      await expectError(
        'unknown field holding a secret',
        api(service, adminKey, 'POST', '/api/v1/handlers', { name: 'x', event: 'clients.update', type: 'http', task: receiver.task(), password: credential }),
        400,
      );
      await expectError(
        'a credential header value that is not allowed',
        api(service, adminKey, 'POST', '/api/v1/handlers', {
          name: 'y',
          event: 'clients.update',
          type: 'http',
          task: receiver.task(),
          headers: { 'X-Api-Key': `${credential}\r\nX-Injected: 1` },
        }),
        400,
      );
      await expectError('a handler that does not exist', api(service, adminKey, 'GET', `/api/v1/handlers/999999/secret`), 404);

      // Deliveries: every event reaches both handlers; odd calls fail and are retried.
      const eventIds: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const response = await api(service, created.events!.key, 'POST', '/api/v1/events', { event: 'clients.update', object_id: i, data: { id: i, name: `c${i}` } });
        assert.equal(response.status, 202, response.text);
        eventIds.push(response.body.id);
      }
      // Three events about one object: called one after the other, so the OAuth2 handler asks for a token three times at least.
      for (const { event } of credentialed) {
        for (let i = 1; i <= 3; i++) {
          const response = await api(service, created.events!.key, 'POST', '/api/v1/events', { event, object_id: 100 });
          assert.equal(response.status, 202, response.text);
          eventIds.push(response.body.id);
        }
      }
      await eventually(async () => {
        for (const id of eventIds) {
          const event = await api(service!, adminKey, 'GET', `/api/v1/events/${id}`);
          if (event.body.deliveries.some((d: { status: string }) => d.status === 'pending' || d.status === 'in_progress')) return undefined;
        }
        return true;
      }, 30_000);
      assert.ok(receiver.requests.length >= 12);
      assert.ok(receiver.requests.some((request) => request.headers['x-api-key'] === credential), 'the credential header was really sent');
      // The target credentials were really used.
      assert.ok(receiver.requests.some((request) => request.headers.authorization === `Basic ${secrets.get('target basic header')}`));
      assert.ok(receiver.requests.some((request) => request.headers.authorization === `Bearer ${token}`));
      assert.ok(receiver.requests.some((request) => issued.some((access) => request.headers.authorization === `Bearer ${access}`)));
      assert.ok(tokenEndpoint.requests.length >= 3, `token requests: ${tokenEndpoint.requests.length}`);
      assert.ok(tokenEndpoint.requests.some((request) => request.headers.authorization === `Basic ${Buffer.from(`provisioning:${newClientSecret}`).toString('base64')}`));
      assert.ok(!receiver.requests.some((request) => request.path === '/mtls'), 'the mTLS handler reached a plain HTTP target');
      for (const access of issued) secrets.set(`issued access token ${access.slice(0, 8)}`, access);
      const list = await api(service, adminKey, 'GET', '/api/v1/handlers?per_page=100');
      views.push({ what: 'handler list', text: list.text });
      for (const item of list.body.items) views.push({ what: `handler ${item.id}`, text: (await api(service, adminKey, 'GET', `/api/v1/handlers/${item.id}`)).text });
      const logs = await api(service, adminKey, 'GET', '/api/v1/execution-logs?limit=500');
      views.push({ what: 'execution logs', text: logs.text });
      assert.ok(logs.body.items.some((item: { error: string | null }) => item.error?.startsWith('authentication failed: OAuth2 token endpoint answered 401 (invalid_client)')));

      // The audit trail as the API answers it, every page.
      const auditAnswers: string[] = [];
      for (let cursor = ''; ; ) {
        const page = await api(service, adminKey, 'GET', `/api/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(page.status, 200, page.text);
        auditAnswers.push(page.text);
        if (!page.body.next_cursor) break;
        cursor = page.body.next_cursor;
      }

      const code = await stopService(service);
      assert.equal(code, 0, tail(service));

      // The audit trail as stored.
      const data = new DataSource({ ...buildDataSourceOptions(parseDatabaseUrl(db.url)), logging: false });
      await data.initialize();
      const auditRows: Record<string, unknown>[] = await data.query('SELECT * FROM audit_log ORDER BY id').finally(() => data.destroy());
      const actions = auditRows.map((row) => row.action);
      for (const action of ['api_key.create', 'api_key.revoke', 'handler.create', 'handler.update', 'handler.secret_rotate', 'handler.secret_reveal']) {
        assert.ok(actions.includes(action), `the audit table has a ${action} row: ${actions.join(', ')}`);
      }
      assert.ok(auditAnswers.length >= 3, `audit pages: ${auditAnswers.length}`);
      const auditTable = JSON.stringify(auditRows);

      // The scan.
      const output = service.output();
      for (const [name, secret] of secrets) {
        assert.ok(secret && secret.length >= 16, `${name} is a real secret`);
        const core = secret.replace(/^whsec_/, '');
        assert.ok(!output.includes(core), `${name} appears in the service output`);
        for (const body of errorBodies) assert.ok(!body.text.includes(core), `${name} appears in the error body of: ${body.what}`);
        assert.ok(!auditTable.includes(core), `${name} appears in the audit_log table`);
        for (const text of auditAnswers) assert.ok(!text.includes(core), `${name} appears in an answer of GET /api/v1/audit`);
        for (const view of views) assert.ok(!view.text.includes(core), `${name} appears in the answer of: ${view.what}`);
      }

      // The logs scanned are real: JSON lines, delivery outcomes, request ids.
      const lines = output.split('\n').filter((line) => line.trim() !== '');
      const entries = lines.map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          return assert.fail(`not a JSON log line: ${line}`);
        }
      });
      const outcomes = entries.filter((entry) => typeof entry.delivery_id === 'number');
      assert.ok(outcomes.length >= 12, `one line per delivery outcome, got ${outcomes.length}`);
      assert.ok(outcomes.some((entry) => entry.outcome === 'retry' && entry.response_code === 500));
      assert.ok(outcomes.some((entry) => entry.outcome === 'succeeded'));
      const requests = entries.filter((entry) => entry.context === 'HTTP');
      assert.ok(requests.length >= 20, `request lines: ${requests.length}`);
      assert.ok(requests.every((entry) => typeof entry.request_id === 'string' && (entry.request_id as string).length > 0));
      assert.equal(errorBodies.length, 11);
      for (const body of errorBodies) assert.match(body.text, /"code":"[A-Z_]+"/, body.what);
    });
  });
}
