import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/data-source.js';
import { parseDatabaseUrl } from '../../src/config/app-config.js';
import { parseSecretKey, SecretBox, secretKey, secretKeyId } from '../../src/secrets/secret-box.js';
import type { TestDatabase } from '../utils/databases.js';
import { eventually, type Received, type TestReceiver } from '../utils/receiver.js';
import { api, killAll, MAIN, type Running, startService, stopService, tail } from '../utils/service-process.js';
import { forEachDatabase } from '../utils/suite.js';
import { pemCore, ThrowawayCa } from '../utils/throwaway-ca.js';

/**
 * Secrets at rest, on each database: signing secrets are stored encrypted (the plain secret is
 * nowhere in the SQLite file or the MySQL/MariaDB tables), webhooks are still signed with the
 * plain secret (a receiver verifies the signatures), the reveal, rotate and test-send routes
 * work; then, with real service processes: an install from before encryption is encrypted at
 * its first start (which generates the key file), the next start reads the key file, a wrong
 * key is refused in one line, and a key rotation re-encrypts every value so that the old key
 * can be removed; a fresh install generates its key file and uses it on the next start.
 */

const KEY_A = randomBytes(32).toString('base64');
const idOf = (keyText: string) => secretKeyId(parseSecretKey(keyText)!);
const boxOf = (keyText: string) => new SecretBox(secretKey(parseSecretKey(keyText)!, 'test'));
const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Standard Webhooks verification, written here from the specification, not with the service's signer. */
function verifiedBy(secret: string, request: Received): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signed = `${String(request.headers['webhook-id'])}.${String(request.headers['webhook-timestamp'])}.${request.body}`;
  const expected = `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
  return String(request.headers['webhook-signature'] ?? '')
    .split(' ')
    .includes(expected);
}

interface StoredSecrets {
  id: number;
  name: string;
  signing_secret: string | null;
  previous_secret: string | null;
}

/** The database as someone holding its file or its tables sees it, through a connection of the test's own. */
class Stored {
  constructor(private readonly db: TestDatabase) {}

  private get sqlitePath(): string {
    return this.db.url.slice('sqlite:'.length);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (this.db.kind === 'sqlite') {
      const connection = new Database(this.sqlitePath);
      try {
        const statement = connection.prepare(sql);
        return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
      } finally {
        connection.close();
      }
    }
    const connection = await createConnection({ uri: this.db.url.replace(/^mariadb:/, 'mysql:') });
    try {
      const [rows] = await connection.query(sql, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    } finally {
      await connection.end();
    }
  }

  handlers(): Promise<StoredSecrets[]> {
    return this.query<StoredSecrets>('SELECT id, name, signing_secret, previous_secret FROM handlers ORDER BY id');
  }

  /**
   * Everything stored: SQLite, the bytes of the database file and of its write-ahead log;
   * MySQL/MariaDB, every row of every table.
   */
  async everything(): Promise<Buffer> {
    if (this.db.kind === 'sqlite') {
      const files = [this.sqlitePath, `${this.sqlitePath}-wal`].filter((file) => existsSync(file));
      return Buffer.concat(files.map((file) => readFileSync(file)));
    }
    const tables = await this.query<Record<string, string>>('SHOW TABLES');
    const dump: unknown[] = [];
    for (const row of tables) dump.push(await this.query(`SELECT * FROM \`${Object.values(row)[0]}\``));
    return Buffer.from(JSON.stringify(dump));
  }
}

/** Asserts that no form of `secret` (its text, its base64 key, the key's bytes or hex) is in `stored`. */
function assertAbsent(stored: Buffer, secret: string, what: string): void {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  assert.equal(key.length, 32, `${what} is a real signing secret`);
  for (const [form, needle] of [
    ['text', Buffer.from(secret)],
    ['base64 key', Buffer.from(secret.slice('whsec_'.length))],
    ['key bytes', key],
    ['hex key', Buffer.from(key.toString('hex'))],
  ] as const) {
    assert.equal(stored.indexOf(needle), -1, `${what} is stored in plain (${form})`);
  }
}

/** Starts the compiled service and expects it to exit 1; answers its output. */
async function refusedStart(cwd: string, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH, TZ: 'UTC', PORT: '0', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  assert.equal(code, 1, `the service did not refuse to start:\n${output}`);
  assert.doesNotMatch(output, /Swagger UI/, 'it must not have started listening');
  return output;
}

forEachDatabase('secrets at rest', { env: { SECRETS_KEY: KEY_A } }, (t) => {
  let receiver: TestReceiver;
  let stored: Stored;
  const marker = `scan-marker-${randomBytes(6).toString('hex')}`;

  before(async () => {
    receiver = await t.receiver(() => ({ status: 200, body: '{}' }));
    stored = new Stored(t.db);
  });

  const requestsTo = (path: string) => receiver.requests.filter((request) => request.path === path);
  const reveal = async (id: number) => {
    const response = await t.http.get(`/api/v1/handlers/${id}/secret`).set(t.admin);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as { signing_secret: string; previous_secret: string | null };
  };

  it('stores every signing secret encrypted with SECRETS_KEY: the plain secret is nowhere in the database', async () => {
    const secrets: string[] = [];
    const ids: number[] = [];
    for (const n of [1, 2, 3]) {
      const created = await t.http
        .post('/api/v1/handlers')
        .set(t.admin)
        .send({ name: `${marker}-${n}`, event: 'clients.create', type: 'http', task: receiver.task(`/stored-${n}`), status: 'disabled' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.signing_secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      secrets.push(created.body.signing_secret);
      ids.push(created.body.id);
    }
    // An edit and a toggle write the row again; a rotation writes both secret columns.
    assert.equal((await t.http.patch(`/api/v1/handlers/${ids[0]}`).set(t.admin).send({ priority: 3 })).status, 200);
    assert.equal((await t.http.post(`/api/v1/handlers/${ids[1]}/toggle`).set(t.admin)).status, 200);
    const rotated = await t.http.post(`/api/v1/handlers/${ids[2]}/rotate-secret`).set(t.admin);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    secrets.push(rotated.body.signing_secret);

    const rows = (await stored.handlers()).filter((row) => ids.includes(row.id));
    assert.equal(rows.length, 3);
    const box = boxOf(KEY_A);
    const sealedByA = new RegExp(`^enc:v1:${escape(idOf(KEY_A))}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$`);
    for (const row of rows) {
      assert.match(row.signing_secret!, sealedByA, `handler ${row.id}`);
      assert.equal(box.open(row.signing_secret!), (await reveal(row.id)).signing_secret);
    }
    const third = rows.find((row) => row.id === ids[2])!;
    assert.match(third.previous_secret!, sealedByA);
    assert.equal(box.open(third.previous_secret!), secrets[2], 'the previous secret is the one created, encrypted too');

    const everything = await stored.everything();
    assert.notEqual(everything.indexOf(Buffer.from(marker)), -1, 'the scan reads the rows just written');
    secrets.forEach((secret, index) => assertAbsent(everything, secret, `signing secret ${index + 1}`));
  });

  it('stores target credentials encrypted too: no password, token, client secret or client key is readable in the database', async () => {
    const password = `pw_${randomBytes(16).toString('hex')}`;
    const token = `bt_${randomBytes(20).toString('hex')}`;
    const clientSecret = `cs_${randomBytes(20).toString('hex')}`;
    const ca = ThrowawayCa.make();
    const bodies = [
      { name: `${marker}-basic`, event: 'clients.create', type: 'http', task: receiver.task('/basic'), status: 'disabled', auth: { type: 'basic', username: 'crm', password } },
      { name: `${marker}-bearer`, event: 'clients.create', type: 'http', task: receiver.task('/bearer'), status: 'disabled', auth: { type: 'bearer', token } },
      {
        name: `${marker}-oauth2`,
        event: 'clients.create',
        type: 'https',
        task: receiver.task('/oauth2'),
        status: 'disabled',
        auth: { type: 'oauth2', token_url: 'https://127.0.0.1:1/token', client_id: 'provisioning', client_secret: clientSecret },
        client_certificate: { cert: ca.client.cert, key: ca.client.key },
      },
    ];
    const ids: number[] = [];
    for (const body of bodies) {
      const created = await t.http.post('/api/v1/handlers').set(t.admin).send(body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      ids.push(created.body.id);
    }
    const box = boxOf(KEY_A);
    const rows = (await stored.query<{ id: number; auth_secret: string | null; client_key: string | null }>('SELECT id, auth_secret, client_key FROM handlers ORDER BY id')).filter((row) =>
      ids.includes(Number(row.id)),
    );
    assert.equal(rows.length, 3);
    const opened = rows.map((row) => box.open(row.auth_secret!));
    assert.deepEqual(opened, [password, token, clientSecret], 'each credential secret is sealed with SECRETS_KEY and opens to what was sent');
    const withKey = rows.find((row) => row.id === ids[2])!;
    assert.equal(box.open(withKey.client_key!).trim(), ca.client.key.trim(), 'the mTLS private key is sealed too');

    const everything = await stored.everything();
    assert.notEqual(everything.indexOf(Buffer.from(marker)), -1, 'the scan reads the rows just written');
    for (const [what, secret] of [
      ['basic password', password],
      ['basic header value', Buffer.from(`crm:${password}`).toString('base64')],
      ['bearer token', token],
      ['OAuth2 client secret', clientSecret],
      ['mTLS client key', pemCore(ca.client.key)],
    ] as const) {
      assert.equal(everything.indexOf(Buffer.from(secret)), -1, `the ${what} is stored in plain`);
    }
  });

  it('signs webhooks with the decrypted secret: a receiver verifies them, before and after a rotation, and on a test send', async () => {
    const created = await t.http.post('/api/v1/handlers').set(t.admin).send({ name: 'signed', event: 'clients.update', type: 'http', task: receiver.task('/signed') });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as number;
    const first: string = created.body.signing_secret;

    const post = async (objectId: number) => {
      const accepted = await t.http.post('/api/v1/events').set(t.admin).send({ event: 'clients.update', object_id: objectId, data: { id: objectId, name: `c${objectId}` } });
      assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    };
    await post(1);
    const [delivered] = await eventually(() => (requestsTo('/signed').length >= 1 ? requestsTo('/signed') : undefined), 10_000, 'the first delivery');
    assert.ok(verifiedBy(first, delivered!), 'signed with the secret the handler was created with');
    assert.ok(!verifiedBy(newSigningSecret(), delivered!), 'the check tells secrets apart');

    // A rotation: the new secret and, during the overlap, the previous one both sign.
    const rotated = await t.http.post(`/api/v1/handlers/${id}/rotate-secret`).set(t.admin);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const second: string = rotated.body.signing_secret;
    assert.notEqual(second, first);
    await post(2);
    const after = await eventually(() => (requestsTo('/signed').length >= 2 ? requestsTo('/signed')[1] : undefined), 10_000, 'the second delivery');
    assert.equal(String(after.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(verifiedBy(second, after) && verifiedBy(first, after), 'current and previous secret both sign');

    // A test send goes through HandlersService's load, not the cache.
    const sent = await t.http.post(`/api/v1/handlers/${id}/test`).set(t.admin).send({});
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    assert.equal(sent.body.status, 'success', JSON.stringify(sent.body));
    const test = requestsTo('/signed')[2]!;
    assert.ok(verifiedBy(second, test) && verifiedBy(first, test));
  });

  it('reveals and rotates through the API as before, the stored values staying encrypted and changing with each rotation', async () => {
    const created = await t.http.post('/api/v1/handlers').set(t.admin).send({ name: 'revealed', event: 'clients.create', type: 'http', task: receiver.task('/revealed') });
    assert.equal(created.status, 201);
    const id = created.body.id as number;
    assert.deepEqual(await reveal(id), { signing_secret: created.body.signing_secret, previous_secret: null, previous_secret_expires_at: null });
    const before = (await stored.handlers()).find((row) => row.id === id)!;

    const rotated = await t.http.post(`/api/v1/handlers/${id}/rotate-secret`).set(t.admin);
    assert.equal(rotated.status, 200);
    const shown = await reveal(id);
    assert.equal(shown.signing_secret, rotated.body.signing_secret);
    assert.equal(shown.previous_secret, created.body.signing_secret);
    const after = (await stored.handlers()).find((row) => row.id === id)!;
    assert.notEqual(after.signing_secret, before.signing_secret);
    assert.equal(boxOf(KEY_A).open(after.signing_secret!), rotated.body.signing_secret);
    assert.equal(boxOf(KEY_A).open(after.previous_secret!), created.body.signing_secret);
    // Neither list nor single answers carry a secret, plain or encrypted.
    const listed = await t.http.get('/api/v1/handlers').set(t.admin);
    const one = await t.http.get(`/api/v1/handlers/${id}`).set(t.admin);
    for (const text of [JSON.stringify(listed.body), JSON.stringify(one.body)]) {
      assert.ok(!text.includes(rotated.body.signing_secret) && !text.includes('enc:v1:'));
    }
  });

  // Service processes, on a database of their own (of this suite's kind).
  const adminKey = `adm_${randomBytes(24).toString('hex')}`;
  let legacy: TestDatabase;
  let cwd: string;
  let keyFile: string;
  let service: Running | undefined;
  const plain = { current: newSigningSecret(), previous: newSigningSecret(), other: newSigningSecret() };

  const start = async (name: string, env: Record<string, string> = {}) => {
    service = await startService(name, cwd, { DATABASE_URL: legacy.url, BOOTSTRAP_ADMIN_KEY: adminKey, ...env });
    return service;
  };
  const stop = async () => {
    if (service) assert.equal(await stopService(service), 0, tail(service));
    service = undefined;
  };
  /** Posts an event to the running service and answers the request the receiver got for it. */
  const delivered = async (path: string) => {
    const seen = requestsTo(path).length;
    const accepted = await api(service!, adminKey, 'POST', '/api/v1/events', { event: 'clients.delete', object_id: 7, data: { id: 7 } });
    assert.equal(accepted.status, 202, accepted.text);
    return eventually(() => requestsTo(path)[seen], 15_000, `a delivery to ${path}`);
  };
  const revealed = async (id: number) => {
    const response = await api(service!, adminKey, 'GET', `/api/v1/handlers/${id}/secret`);
    assert.equal(response.status, 200, response.text);
    return response.body as { signing_secret: string; previous_secret: string | null };
  };

  it('an install from before encryption: its first start generates the key file and encrypts the plain secrets', { timeout: 120_000 }, async () => {
    legacy = await t.kind.create();
    cwd = mkdtempSync(join(tmpdir(), 'prov-secrets-at-rest-'));
    t.cleanup(async () => {
      await killAll();
      rmSync(cwd, { recursive: true, force: true });
      await legacy.drop();
    });
    // The schema and rows of the release before: plain secrets in VARCHAR(100) columns.
    const options = buildDataSourceOptions(parseDatabaseUrl(legacy.url));
    const before = MIGRATIONS.findIndex((migration) => migration.name === 'WiderSecretColumns1764310000000');
    assert.ok(before > 0);
    const old = new DataSource({ ...options, migrations: MIGRATIONS.slice(0, before), logging: false });
    await old.initialize();
    try {
      await old.runMigrations({ transaction: 'each' });
      const now = Date.now();
      const insert = `INSERT INTO handlers (name, event, type, task, status, priority, stage, timeout_ms, retry_limit, headers,
        signing_secret, previous_secret, previous_secret_expires_at, created_at, updated_at) VALUES (?, 'clients.delete', 'http', ?, 'enabled', ?, 'after', 5000, 0, '{}', ?, ?, ?, ?, ?)`;
      await old.query(insert, ['legacy-1', receiver.task('/legacy-1'), 1, plain.current, plain.previous, now + 3600_000, now, now]);
      await old.query(insert, ['legacy-2', receiver.task('/legacy-2'), 2, plain.other, null, null, now, now]);
    } finally {
      await old.destroy();
    }

    keyFile = legacy.kind === 'sqlite' ? join(dirname(legacy.url.slice('sqlite:'.length)), 'secrets.key') : join(cwd, 'data', 'secrets.key');
    const running = await start('upgraded');
    const output = running.output();
    assert.match(output, new RegExp(`Secrets key generated into ${escape(keyFile)} \\(readable by its owner only\\)`));
    assert.match(output, /Encrypted 3 stored secret\(s\) written before encryption at rest/);
    assert.match(output, new RegExp(`\\[Main\\] .*Secrets key: in ${escape(keyFile)} `), 'the start summary says where the key is');
    if (legacy.kind === 'sqlite') assert.match(output, /Rebuilt the SQLite file \(VACUUM\)/);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file is readable by its owner only');
    const keyText = readFileSync(keyFile, 'utf8').trim();
    assert.ok(!output.includes(keyText), 'the key itself is never logged');

    const rows = await storedIn(legacy).handlers();
    const box = boxOf(keyText);
    for (const row of rows) assert.ok(row.signing_secret!.startsWith(`enc:v1:${idOf(keyText)}:`), `handler ${row.id} is encrypted with the generated key`);
    assert.equal(box.open(rows[0]!.signing_secret!), plain.current);
    assert.equal(box.open(rows[0]!.previous_secret!), plain.previous);
    assert.equal(box.open(rows[1]!.signing_secret!), plain.other);
    const everything = await storedIn(legacy).everything();
    assert.notEqual(everything.indexOf(Buffer.from('legacy-1')), -1, 'the scan reads the rows');
    for (const secret of Object.values(plain)) assertAbsent(everything, secret, 'a secret from before the upgrade');

    const shown = await revealed(rows[0]!.id);
    assert.equal(shown.signing_secret, plain.current, 'the reveal route answers the plain secret');
    assert.equal(shown.previous_secret, plain.previous);
    const call = await delivered('/legacy-1');
    assert.ok(verifiedBy(plain.current, call) && verifiedBy(plain.previous, call), 'the secrets of before the upgrade still sign');
    assert.ok(verifiedBy(plain.other, await eventually(() => requestsTo('/legacy-2')[0], 15_000, 'the second handler')));
    await stop();
  });

  it('the next start reads the key file: nothing generated, nothing to encrypt, the same secrets sign', { timeout: 60_000 }, async () => {
    const keyText = readFileSync(keyFile, 'utf8').trim();
    const running = await start('restarted');
    assert.doesNotMatch(running.output(), /Secrets key generated|Encrypted \d+ stored|Re-encrypted/);
    assert.match(running.output(), new RegExp(`Secrets key: in ${escape(keyFile)} `));
    assert.equal(readFileSync(keyFile, 'utf8').trim(), keyText, 'the key file is kept as it is');
    const call = await delivered('/legacy-1');
    assert.ok(verifiedBy(plain.current, call));
    await stop();
  });

  it('refuses to start with a wrong key, saying why in one line that holds no secret, and changes nothing', { timeout: 60_000 }, async () => {
    const keyText = readFileSync(keyFile, 'utf8').trim();
    const wrong = randomBytes(32).toString('base64');
    const rowsBefore = await storedIn(legacy).handlers();
    const output = await refusedStart(cwd, { DATABASE_URL: legacy.url, BOOTSTRAP_ADMIN_KEY: adminKey, SECRETS_KEY: wrong });
    const line = output.split('\n').find((text) => text.startsWith('Cannot read the secrets stored in the database:'));
    assert.ok(line, `no line saying why:\n${output}`);
    assert.match(line, new RegExp(`encrypted with key ${escape(idOf(keyText))}, which is not configured`));
    assert.match(line, new RegExp(`This instance has SECRETS_KEY ${escape(idOf(wrong))}\\.`));
    assert.match(line, /Start it with the key that encrypted them as SECRETS_KEY/);
    assert.doesNotMatch(output, /^\s+at /m, 'a clear message, not a stack trace');
    for (const secret of [wrong, keyText, adminKey, ...Object.values(plain), ...rowsBefore.map((row) => row.signing_secret!)]) {
      assert.ok(!output.includes(secret), 'a key or a secret appears in the output');
    }
    assert.deepEqual(await storedIn(legacy).handlers(), rowsBefore, 'the refused start changed nothing');
  });

  it('rotates the key: the new key as SECRETS_KEY and the old in SECRETS_KEY_PREVIOUS re-encrypt every value at start; then the old key can go', { timeout: 120_000 }, async () => {
    const oldKey = readFileSync(keyFile, 'utf8').trim();
    const newKey = randomBytes(32).toString('base64');
    const rowsBefore = await storedIn(legacy).handlers();

    let running = await start('rotating', { SECRETS_KEY: newKey, SECRETS_KEY_PREVIOUS: oldKey });
    assert.match(running.output(), new RegExp(`Re-encrypted 4 stored secret\\(s\\) with key ${escape(idOf(newKey))} \\(SECRETS_KEY\\)`), tail(running));
    assert.match(running.output(), new RegExp(`No stored secret needs SECRETS_KEY_PREVIOUS \\(${escape(idOf(oldKey))}\\) any more`));
    assert.match(running.output(), /\[Main\] .*Secrets key: the value of SECRETS_KEY/);
    for (const secret of [oldKey, newKey]) assert.ok(!running.output().includes(secret));
    const rows = await storedIn(legacy).handlers();
    for (const [index, row] of rows.entries()) {
      for (const column of ['signing_secret', 'previous_secret'] as const) {
        if (row[column] === null) continue;
        assert.ok(row[column]!.startsWith(`enc:v1:${idOf(newKey)}:`), `${column} of handler ${row.id} is re-encrypted with the new key`);
        assert.equal(boxOf(newKey).open(row[column]!), boxOf(oldKey).open(rowsBefore[index]![column]!), 'the same secret');
      }
    }
    // The key check in app_meta moved too: nothing in the database needs the old key.
    const check = await storedIn(legacy).query<{ value: string }>("SELECT value FROM app_meta WHERE name = 'secrets_key_check'");
    assert.ok(check[0]!.value.startsWith(`enc:v1:${idOf(newKey)}:`));
    assert.ok(verifiedBy(plain.current, await delivered('/legacy-1')));
    // The API writes with the new key.
    const rotated = await api(running, adminKey, 'POST', `/api/v1/handlers/${rows[1]!.id}/rotate-secret`);
    assert.equal(rotated.status, 200, rotated.text);
    const rotatedRow = (await storedIn(legacy).handlers())[1]!;
    assert.equal(boxOf(newKey).open(rotatedRow.signing_secret!), rotated.body.signing_secret);
    assert.equal(boxOf(newKey).open(rotatedRow.previous_secret!), plain.other);
    await stop();

    // The old key removed: the new key alone starts, and signs.
    running = await start('rotated', { SECRETS_KEY: newKey });
    assert.doesNotMatch(running.output(), /Re-encrypted|Encrypted \d+|SECRETS_KEY_PREVIOUS/);
    const call = await delivered(`/legacy-2`);
    assert.ok(verifiedBy(rotated.body.signing_secret, call) && verifiedBy(plain.other, call));
    assert.equal((await revealed(rows[1]!.id)).signing_secret, rotated.body.signing_secret);
    await stop();

    // The old key alone (its file, as before the rotation) no longer opens anything.
    const refused = await refusedStart(cwd, { DATABASE_URL: legacy.url, BOOTSTRAP_ADMIN_KEY: adminKey, SECRETS_KEY_FILE: keyFile });
    assert.match(refused, new RegExp(`encrypted with key ${escape(idOf(newKey))}, which is not configured\\. This instance has the key file ${escape(keyFile)} ${escape(idOf(oldKey))}\\.`));
  });

  it('a fresh install generates its key file, encrypts with it and uses it on the next start', { timeout: 120_000 }, async () => {
    const fresh = t.kind.name === 'sqlite' ? null : await t.kind.create();
    const folder = mkdtempSync(join(tmpdir(), 'prov-fresh-'));
    t.cleanup(async () => {
      await killAll();
      rmSync(folder, { recursive: true, force: true });
      await fresh?.drop();
    });
    // SQLite as an operator starts it: no DATABASE_URL, so ./data/provisioning.sqlite and ./data/secrets.key.
    const env = { BOOTSTRAP_ADMIN_KEY: adminKey, ...(fresh ? { DATABASE_URL: fresh.url } : {}) };
    const file = join(folder, 'data', 'secrets.key');
    assert.ok(!existsSync(file));
    let running = await startService('fresh', folder, env);
    assert.match(running.output(), new RegExp(`Secrets key generated into ${escape(file)}`));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const keyText = readFileSync(file, 'utf8').trim();
    const created = await api(running, adminKey, 'POST', '/api/v1/handlers', { name: 'fresh', event: 'clients.create', type: 'http', task: receiver.task('/fresh') });
    assert.equal(created.status, 201, created.text);
    assert.equal(await stopService(running), 0, tail(running));

    running = await startService('fresh-again', folder, env);
    try {
      assert.doesNotMatch(running.output(), /Secrets key generated/);
      const db: TestDatabase = fresh ?? { kind: 'sqlite', url: `sqlite:${join(folder, 'data', 'provisioning.sqlite')}`, drop: async () => undefined };
      const [row] = await storedIn(db).handlers();
      assert.ok(row!.signing_secret!.startsWith(`enc:v1:${idOf(keyText)}:`));
      assert.equal(boxOf(keyText).open(row!.signing_secret!), created.body.signing_secret);
      const shown = await api(running, adminKey, 'GET', `/api/v1/handlers/${created.body.id}/secret`);
      assert.equal(shown.body.signing_secret, created.body.signing_secret);
      const accepted = await api(running, adminKey, 'POST', '/api/v1/events', { event: 'clients.create', object_id: 9, data: { id: 9, name: 'n' } });
      assert.equal(accepted.status, 202, accepted.text);
      assert.ok(verifiedBy(created.body.signing_secret, await eventually(() => requestsTo('/fresh')[0], 15_000, 'the delivery')));
    } finally {
      assert.equal(await stopService(running), 0, tail(running));
    }
  });
});

function storedIn(db: TestDatabase): Stored {
  return new Stored(db);
}
