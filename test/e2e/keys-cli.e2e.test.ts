import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { eventually } from '../utils/receiver.js';
import { KEYS_CLI, keysScript } from '../utils/service-process.js';
import { KEY_CACHE_TTL_MS } from '../../src/api-keys/api-keys.service.js';

const run = promisify(execFile);

forEachDatabase('keys script', {}, (t) => {
  const keys = (...args: string[]) => keysScript(t.db.url, ...args);

  it('creates a key the API accepts, lists it without the key, and revokes it', async () => {
    const created = await keys('create', '--name', 'core events', '--scopes', 'events,read');
    const key = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    const id = /Created key (\d+)/.exec(created.stdout)![1];
    assert.equal((await t.http.get('/api/v1/handlers').set(bearer(key))).status, 200);

    const listed = await keys('list');
    assert.match(listed.stdout, new RegExp(`^${id}\\t${key.slice(0, 10)}\\tevents,read\\tactive`, 'm'));
    assert.ok(!listed.stdout.includes(key), 'list must not print keys');

    const revoked = await keys('revoke', id!);
    assert.match(revoked.stdout, /Revoked key/);
    // A revocation made elsewhere reaches this instance once its verified-key cache expires.
    const started = Date.now();
    await eventually(async () => ((await t.http.get('/api/v1/handlers').set(bearer(key))).status === 401 ? true : undefined), KEY_CACHE_TTL_MS + 2000);
    assert.ok(Date.now() - started <= KEY_CACHE_TTL_MS + 2000);
  });

  it('revokes only by a decimal id: 0x1, 1e0 and +1 name no key and change nothing', async () => {
    for (const spelling of ['0x1', '1e0', '+1', ' 1', '01']) {
      await assert.rejects(keys('revoke', spelling), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2, spelling);
        assert.match(error.stderr, /decimal digits/);
        return true;
      });
    }
    const listed = await keys('list');
    assert.match(listed.stdout, /^1\t\S+\tadmin\tactive/m, 'the first admin key is still active');
    assert.equal((await t.http.get('/api/v1/handlers').set(bearer(t.adminKey))).status, 200);
  });

  it('creates an internal key on the host, which an admin key cannot do through the API', async () => {
    const refused = await t.http.post('/api/v1/api-keys').set(bearer(t.adminKey)).send({ name: 'scripts', scopes: ['internal'] });
    assert.equal(refused.status, 403);
    const created = await keys('create', '--name', 'scripts', '--scopes', 'internal');
    const key = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(key, created.stdout);
    const me = await t.http.get('/api/v1/auth/me').set(bearer(key));
    assert.deepEqual(me.body.scopes, ['internal']);
  });

  it('refuses unknown scopes and commands with a usage message and exit code 2', async () => {
    await assert.rejects(keys('create', '--name', 'x', '--scopes', 'root'), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /unknown: root/);
      return true;
    });
    await assert.rejects(keys('explode'), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /usage/);
      return true;
    });
    const listed = await keys('list');
    assert.ok(!listed.stdout.includes('\tx\n'), 'nothing was created');
  });
});

/**
 * `npm run keys` goes through src/cli/run-compiled.mjs, which builds only when dist/ is missing or older
 * than src/. Its decision is checked on a scratch tree; the real run below must take the
 * compiled CLI as it is (this suite runs right after a full build).
 */
describe('keys launcher (npm run keys)', () => {
  const LAUNCHER = resolve('src/cli/run-compiled.mjs');
  type Launcher = { isBuildCurrent(entry: string, root?: string): boolean; newestInput(root?: string): number };
  let launcher: Launcher;
  let root: string;
  before(async () => {
    launcher = (await import(pathToFileURL(LAUNCHER).href)) as Launcher;
    root = mkdtempSync(join(tmpdir(), 'prov-launcher-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('builds when the compiled entry is missing or older than a source or build setting, not otherwise', () => {
    const at = (path: string, seconds: number) => utimesSync(path, seconds, seconds);
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
    const source = join(root, 'src', 'cli', 'keys.ts');
    const deep = join(root, 'src', 'api-keys', 'store.ts');
    mkdirSync(join(root, 'src', 'api-keys'));
    const settings = join(root, 'tsconfig.json');
    const entry = join(root, 'dist', 'src', 'cli', 'keys.js');
    for (const file of [source, deep, settings]) writeFileSync(file, '');
    for (const file of [source, deep, settings]) at(file, 1_000);
    assert.equal(launcher.isBuildCurrent(entry, root), false, 'no build yet');

    writeFileSync(entry, '');
    at(entry, 2_000);
    assert.equal(launcher.isBuildCurrent(entry, root), true, 'built after every source');
    at(deep, 3_000);
    assert.equal(launcher.isBuildCurrent(entry, root), false, 'a source edited after the build');
    at(deep, 1_000);
    at(settings, 3_000);
    assert.equal(launcher.isBuildCurrent(entry, root), false, 'a build setting changed after the build');
    at(settings, 1_000);
    // Files that are not compiled (the console's static files) do not call for a build.
    writeFileSync(join(root, 'src', 'app.js'), '');
    at(join(root, 'src', 'app.js'), 3_000);
    assert.equal(launcher.isBuildCurrent(entry, root), true);
    assert.equal(launcher.newestInput(root), 1_000_000);
  });

  it('runs the compiled CLI without building when the build is current, passing arguments and exit code through', async (t) => {
    const entry = KEYS_CLI;
    // Guard: a build here would delete dist/ under the running tests.
    if (!launcher.isBuildCurrent(entry)) return t.skip('dist/ is older than src/ (a source changed since the build)');
    const before = statSync(entry).mtimeMs;
    const cwd = mkdtempSync(join(tmpdir(), 'prov-launch-run-'));
    const env = { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(cwd, 'keys.sqlite')}` };
    try {
      const created = await run(process.execPath, [LAUNCHER, 'keys', 'create', '--name', 'launched', '--scopes', 'read'], { cwd, env });
      assert.match(created.stdout, /^Created key 1 "launched" with scopes read\.$/m);
      assert.match(created.stdout, /^pk_\S+$/m);
      assert.doesNotMatch(created.stderr, /building/);
      assert.equal(statSync(entry).mtimeMs, before, 'nothing was rebuilt');
      await assert.rejects(run(process.execPath, [LAUNCHER, 'keys', 'explode'], { cwd, env }), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, /usage/);
        return true;
      });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
