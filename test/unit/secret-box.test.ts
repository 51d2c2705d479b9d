import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  isSealed,
  parseSecretKey,
  SecretBox,
  secretKey,
  secretKeyId,
  sealedKeyId,
  SecretUnreadableError,
} from '../../src/secrets/secret-box.js';
import { loadSecretKeys, SecretsKeyError } from '../../src/secrets/secrets-key.js';
import { loadConfig } from '../../src/config/app-config.js';
import { ConfigError } from '../../src/config/environment.js';

const keyA = secretKey(randomBytes(32), 'SECRETS_KEY');
const keyB = secretKey(randomBytes(32), 'SECRETS_KEY');
const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;

function unreadable(reason: SecretUnreadableError['reason']) {
  return (error: unknown) => error instanceof SecretUnreadableError && error.reason === reason;
}

describe('SecretBox: AES-256-GCM values that name their key', () => {
  it('seals into enc:v1:<key id>:<iv>:<tag>:<ciphertext> and opens back', () => {
    const box = new SecretBox(keyA);
    const sealed = box.seal(SIGNING_SECRET);
    assert.match(sealed, new RegExp(`^enc:v1:${keyA.id.replace(/[-]/g, '\\-')}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$`));
    assert.ok(!sealed.includes(SIGNING_SECRET) && !sealed.includes(SIGNING_SECRET.slice(6)));
    assert.equal(box.open(sealed), SIGNING_SECRET);
    assert.equal(sealedKeyId(sealed), keyA.id);
    assert.ok(isSealed(sealed) && box.isCurrent(sealed));
    for (const text of ['', 'é ünïcode ✓ 🔑', 'x'.repeat(5000)]) assert.equal(box.open(box.seal(text)), text);
    // A signing secret sealed fits the widened columns (VARCHAR(255)).
    assert.ok(sealed.length <= 255, `${sealed.length} characters`);
  });

  it('is standard AES-256-GCM: node:crypto opens it directly with the key, the IV, the tag and enc:v1:<key id> as AAD', () => {
    const sealed = new SecretBox(keyA).seal(SIGNING_SECRET);
    const [, , id, iv, tag, ciphertext] = sealed.split(':') as string[];
    const decipher = createDecipheriv('aes-256-gcm', keyA.key, Buffer.from(iv!, 'base64url'));
    decipher.setAAD(Buffer.from(`enc:v1:${id}`));
    decipher.setAuthTag(Buffer.from(tag!, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext!, 'base64url')), decipher.final()]).toString('utf8');
    assert.equal(plain, SIGNING_SECRET);
    assert.equal(Buffer.from(iv!, 'base64url').length, 12, '96-bit IV');
    assert.equal(Buffer.from(tag!, 'base64url').length, 16, '128-bit tag');
  });

  it('uses a fresh random IV for every value', () => {
    const box = new SecretBox(keyA);
    const ivs = new Set<string>();
    for (let i = 0; i < 1000; i++) ivs.add(box.seal(SIGNING_SECRET).split(':')[3]!);
    assert.equal(ivs.size, 1000);
  });

  it('names a key by an id derived from it: stable, distinct per key, revealing nothing of it', () => {
    assert.equal(secretKeyId(keyA.key), keyA.id);
    assert.equal(secretKeyId(Buffer.from(keyA.key)), keyA.id);
    assert.notEqual(keyA.id, keyB.id);
    assert.match(keyA.id, /^[A-Za-z0-9_-]{8}$/);
    assert.ok(!keyA.key.toString('base64').includes(keyA.id) && !keyA.key.toString('base64url').includes(keyA.id));
  });

  it('opens values of a previous key and seals with the current one (rotation)', () => {
    const old = new SecretBox(keyA);
    const sealedByA = old.seal(SIGNING_SECRET);
    const rotated = new SecretBox(keyB, [{ ...keyA, origin: 'SECRETS_KEY_PREVIOUS' }]);
    assert.equal(rotated.open(sealedByA), SIGNING_SECRET);
    assert.equal(rotated.isCurrent(sealedByA), false);
    const resealed = rotated.seal(rotated.open(sealedByA));
    assert.equal(sealedKeyId(resealed), keyB.id);
    assert.equal(new SecretBox(keyB).open(resealed), SIGNING_SECRET, 'once re-encrypted, the old key is no longer needed');
    assert.throws(() => old.open(resealed), unreadable('unknown-key'));
  });

  it('refuses a value of an unknown key, naming the key id and nothing secret', () => {
    const sealed = new SecretBox(keyA).seal(SIGNING_SECRET);
    assert.throws(
      () => new SecretBox(keyB).open(sealed),
      (error: unknown) => {
        assert.ok(error instanceof SecretUnreadableError);
        assert.equal(error.reason, 'unknown-key');
        assert.equal(error.keyId, keyA.id);
        assert.match(error.message, new RegExp(`key ${keyA.id.replace(/-/g, '\\-')}, which is not configured`));
        for (const secret of [SIGNING_SECRET, sealed, keyA.key.toString('base64'), keyB.key.toString('base64')]) assert.ok(!error.message.includes(secret));
        return true;
      },
    );
  });

  it('refuses altered values: ciphertext, tag, IV, or a key id swapped for another configured key', () => {
    const box = new SecretBox(keyA, [keyB]);
    const sealed = box.seal(SIGNING_SECRET);
    const parts = sealed.split(':');
    const flip = (text: string) => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    for (const index of [3, 4, 5]) {
      const altered = [...parts];
      altered[index] = flip(altered[index]!);
      assert.throws(() => box.open(altered.join(':')), unreadable('rejected'), `part ${index}`);
    }
    // Encrypted with A, labelled B: B is configured, so only the authentication can catch it.
    const relabelled = [...parts];
    relabelled[2] = keyB.id;
    assert.throws(() => box.open(relabelled.join(':')), unreadable('rejected'));
    // A value of the same key, but another box's key of the same id cannot exist: ids follow keys.
  });

  it('refuses malformed values', () => {
    const box = new SecretBox(keyA);
    const good = box.seal('x').split(':');
    for (const bad of [
      'whsec_plain',
      'enc:v1',
      `enc:v1:${keyA.id}:AAAA:AAAA`,
      `enc:v2:${good.slice(2).join(':')}`,
      `enc:v1::${good.slice(3).join(':')}`,
      `enc:v1:${keyA.id}:${good[3]}:${good[4]}:not base64!`,
      `enc:v1:${keyA.id}:AAAAAAAA:${good[4]}:${good[5]}`,
      `${good.join(':')}:extra`,
    ]) {
      assert.throws(() => box.open(bad), unreadable('malformed'), bad);
    }
  });

  it('handles null columns', () => {
    const box = new SecretBox(keyA);
    assert.equal(box.sealNullable(null), null);
    assert.equal(box.openNullable(null), null);
    assert.equal(box.openNullable(box.sealNullable('v')), 'v');
  });

  it('describes its keys by origin and id only', () => {
    const box = new SecretBox(keyA, [{ ...keyB, origin: 'SECRETS_KEY_PREVIOUS' }]);
    assert.equal(box.describeKeys(), `SECRETS_KEY ${keyA.id}, SECRETS_KEY_PREVIOUS ${keyB.id}`);
  });
});

describe('secrets key configuration', () => {
  const base64Key = randomBytes(32).toString('base64');

  it('parses base64 and base64url keys of 32 bytes only', () => {
    const bytes = randomBytes(32);
    assert.deepEqual(parseSecretKey(bytes.toString('base64')), bytes);
    assert.deepEqual(parseSecretKey(bytes.toString('base64url')), bytes);
    assert.deepEqual(parseSecretKey(` ${bytes.toString('base64')}\n`), bytes);
    for (const bad of ['', 'short', randomBytes(31).toString('base64'), randomBytes(33).toString('base64'), `${base64Key.slice(0, -2)}!=`]) {
      assert.equal(parseSecretKey(bad), null, bad);
    }
  });

  it('reads SECRETS_KEY, SECRETS_KEY_PREVIOUS and SECRETS_KEY_FILE', () => {
    const previous = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64url')];
    const config = loadConfig({ SECRETS_KEY: base64Key, SECRETS_KEY_PREVIOUS: `${previous[0]} , ${previous[1]}`, SECRETS_KEY_FILE: 'keys/secrets.key' });
    assert.equal(config.secrets.key, base64Key);
    assert.deepEqual(config.secrets.previousKeys, previous);
    assert.equal(config.secrets.keyFile, resolve('keys/secrets.key'));
  });

  it('keeps the generated key beside the SQLite database, in ./data on MySQL/MariaDB, in memory for :memory:', () => {
    assert.equal(loadConfig({}).secrets.keyFile, resolve('data/secrets.key'));
    assert.equal(loadConfig({ DATABASE_URL: 'sqlite:/srv/prov/db.sqlite' }).secrets.keyFile, '/srv/prov/secrets.key');
    assert.equal(loadConfig({ DATABASE_URL: 'mariadb://u@h:3306/p' }).secrets.keyFile, resolve('data/secrets.key'));
    assert.equal(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).secrets.keyFile, null);
    assert.equal(loadConfig({}).secrets.key, undefined);
    assert.deepEqual(loadConfig({}).secrets.previousKeys, []);
  });

  it('refuses keys that are not base64 of 32 bytes, naming the variable and never echoing the value', () => {
    const short = randomBytes(16).toString('base64');
    const long = randomBytes(40).toString('base64');
    assert.throws(
      () => loadConfig({ SECRETS_KEY: short, SECRETS_KEY_PREVIOUS: `${base64Key},${long}` }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /SECRETS_KEY: SECRETS_KEY must be base64 of 32 bytes/);
        assert.match(error.message, /SECRETS_KEY_PREVIOUS: key 2 is not base64 of 32 bytes/);
        for (const value of [short, long, base64Key]) assert.ok(!error.message.includes(value));
        return true;
      },
    );
    assert.throws(() => loadConfig({ SECRETS_KEY_PREVIOUS: 'a,,b' }), /SECRETS_KEY_PREVIOUS/);
  });
});

describe('loading the secrets key', () => {
  const withFolder = async (work: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'prov-secret-key-'));
    try {
      await work(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('generates the key file on first use (owner-only, in an owner-only folder) and reads it afterwards', () =>
    withFolder(async (dir) => {
      const file = join(dir, 'data', 'secrets.key');
      const first = await loadSecretKeys({ previousKeys: [], keyFile: file });
      assert.deepEqual(first.source, { kind: 'file', path: file, generated: true });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'data')).mode & 0o777, 0o700);
      assert.deepEqual(parseSecretKey(readFileSync(file, 'utf8')), first.box.current.key);
      const second = await loadSecretKeys({ previousKeys: [], keyFile: file });
      assert.deepEqual(second.source, { kind: 'file', path: file, generated: false });
      assert.equal(second.box.current.id, first.box.current.id);
      assert.equal(second.box.open(first.box.seal('kept')), 'kept');
    }));

  it('ends with one key when instances start together in one folder', () =>
    withFolder(async (dir) => {
      const file = join(dir, 'secrets.key');
      const loaded = await Promise.all(Array.from({ length: 8 }, () => loadSecretKeys({ previousKeys: [], keyFile: file })));
      assert.equal(new Set(loaded.map((l) => l.box.current.id)).size, 1);
      assert.equal(loaded.filter((l) => l.source.kind === 'file' && l.source.generated).length, 1);
    }));

  it('prefers SECRETS_KEY to the file, and adds SECRETS_KEY_PREVIOUS for reading', () =>
    withFolder(async (dir) => {
      const current = randomBytes(32);
      const previous = randomBytes(32);
      const file = join(dir, 'secrets.key');
      const { box, source } = await loadSecretKeys({ key: current.toString('base64'), previousKeys: [previous.toString('base64')], keyFile: file });
      assert.deepEqual(source, { kind: 'environment' });
      assert.throws(() => statSync(file), 'no key file is written when SECRETS_KEY is set');
      assert.equal(box.current.id, secretKeyId(current));
      assert.equal(box.current.origin, 'SECRETS_KEY');
      assert.deepEqual(box.previous.map((key) => [key.id, key.origin]), [[secretKeyId(previous), 'SECRETS_KEY_PREVIOUS']]);
    }));

  it('keeps the key of an in-memory database in memory', async () => {
    const { box, source } = await loadSecretKeys({ previousKeys: [], keyFile: null });
    assert.deepEqual(source, { kind: 'memory' });
    assert.equal(box.open(box.seal('x')), 'x');
  });

  it('refuses a key file that holds no key, without echoing its content', () =>
    withFolder(async (dir) => {
      const file = join(dir, 'secrets.key');
      writeFileSync(file, 'not-a-key-but-maybe-something-private\n', { mode: 0o600 });
      await assert.rejects(loadSecretKeys({ previousKeys: [], keyFile: file }), (error: unknown) => {
        assert.ok(error instanceof SecretsKeyError);
        assert.match(error.message, /does not hold a key \(base64 of 32 bytes\)/);
        assert.ok(!error.message.includes('maybe-something-private'));
        assert.equal(error.stack, `SecretsKeyError: ${error.message}`, 'one line, no stack');
        return true;
      });
    }));
});
