import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { databaseKinds } from '../utils/databases.js';

/** The compiled service, as `npm run start:prod` runs it. */
const MAIN = resolve('dist/src/main.js');
const kinds = await databaseKinds();

interface Running {
  child: ChildProcess;
  output: () => string;
  baseUrl: string;
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, TZ: 'UTC', PORT: '0', HOST: '127.0.0.1', ...extra };
}

/** Starts the service in `cwd` and waits for the line that says where Swagger UI is. */
async function startService(cwd: string, env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], { cwd, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const started = Date.now();
  while (!/Swagger UI: (http:\/\/\S+)\/docs/.test(text)) {
    if (child.exitCode !== null) assert.fail(`service exited with ${child.exitCode}:\n${text}`);
    if (Date.now() - started > 30_000) assert.fail(`service did not start:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const baseUrl = /Swagger UI: (http:\/\/\S+)\/docs/.exec(text)![1]!.replace('localhost', '127.0.0.1');
  return { child, output: () => text, baseUrl };
}

async function stop(running: Running): Promise<number | null> {
  if (running.child.exitCode !== null) return running.child.exitCode;
  running.child.kill('SIGTERM');
  const [code] = await once(running.child, 'exit');
  return code as number | null;
}

describe('the compiled service as an operator starts it', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'prov-start-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('with no configuration: SQLite under ./data, serves /docs and /health, tells where the first admin key is', async () => {
    const running = await startService(cwd, {});
    try {
      const keyFile = join(cwd, 'data', 'admin-key.txt');
      assert.match(running.output(), new RegExp(`First admin key written to ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file must be readable by its owner only');
      const key = readFileSync(keyFile, 'utf8').trim();
      assert.ok(!running.output().includes(key), 'the key itself must never be logged');
      assert.ok(statSync(join(cwd, 'data', 'provisioning.sqlite')).isFile());
      assert.equal(statSync(join(cwd, 'data')).mode & 0o777, 0o700, 'the data folder (database with signing secrets) is owner-only');

      assert.equal((await fetch(`${running.baseUrl}/health`)).status, 200);
      assert.equal((await fetch(`${running.baseUrl}/health/ready`)).status, 200);
      const docs = await fetch(`${running.baseUrl}/docs`);
      assert.equal(docs.status, 200);
      const handlers = await fetch(`${running.baseUrl}/api/v1/handlers`, { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(handlers.status, 200);
    } finally {
      assert.equal(await stop(running), 0, 'SIGTERM must end the service cleanly');
    }
    // A second start on the same database creates no new key, and still says where the first one is.
    const again = await startService(cwd, {});
    try {
      assert.match(again.output(), /The first admin key is in .*admin-key\.txt/);
      assert.doesNotMatch(again.output(), /First admin key written/);
    } finally {
      await stop(again);
    }
  });

  it('refuses to start on a bad value and names the variable', async () => {
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: baseEnv({ PORT: 'eighty', LOG_LEVEL: 'loud', BOOTSTRAP_ADMIN_KEY: 'short secret value' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stderr!.on('data', (chunk) => (text += chunk));
    child.stdout!.on('data', (chunk) => (text += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(text, /PORT/);
    assert.match(text, /LOG_LEVEL/);
    assert.match(text, /BOOTSTRAP_ADMIN_KEY/);
    assert.ok(!text.includes('short secret value'), 'a secret value was echoed');
  });
});

for (const kind of kinds) {
  describe(`BOOTSTRAP_ADMIN_KEY on a fresh database [${kind.name}]`, { skip: kind.skip }, () => {
    it('installs the supplied key as the first admin key and writes no key file', async () => {
      const db = await kind.create();
      const cwd = mkdtempSync(join(tmpdir(), 'prov-start-'));
      const supplied = 'deploy_' + 'k'.repeat(40);
      const running = await startService(cwd, { DATABASE_URL: db.url, BOOTSTRAP_ADMIN_KEY: supplied });
      try {
        assert.match(running.output(), /First admin key installed from BOOTSTRAP_ADMIN_KEY/);
        assert.ok(!running.output().includes(supplied));
        const ok = await fetch(`${running.baseUrl}/api/v1/cache`, { headers: { Authorization: `Bearer ${supplied}` } });
        assert.equal(ok.status, 200);
        assert.throws(() => statSync(join(cwd, 'data', 'admin-key.txt')));
      } finally {
        await stop(running);
        rmSync(cwd, { recursive: true, force: true });
        await db.drop();
      }
    });
  });
}
