import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachDatabase } from '../utils/suite.js';
import { killAll, runToExit, startService, stopService } from '../utils/service-process.js';
import { eventually } from '../utils/receiver.js';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the compiled service as an operator starts it', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'prov-start-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('with no configuration: SQLite under ./data, serves /docs and /health, tells where the first admin key is', async () => {
    const running = await startService('service', cwd, {});
    try {
      const keyFile = join(cwd, 'data', 'admin-key.txt');
      assert.match(running.output(), new RegExp(`First admin key written to ${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key file must be readable by its owner only');
      const key = readFileSync(keyFile, 'utf8').trim();
      assert.ok(!running.output().includes(key), 'the key itself must never be logged');
      // At the default level the start output is short: no route-mapping or module lines, and the
      // closing summary names the key file next to the console and docs URLs.
      const output = running.output();
      assert.doesNotMatch(output, /RouterExplorer|RoutesResolver|InstanceLoader|Mapped \{/);
      const lines = output.split('\n').filter((line) => line.trim() !== '');
      assert.ok(lines.length <= 15, `${lines.length} lines at start:\n${output}`);
      const summary = lines.slice(lines.findIndex((line) => line.includes('Provisioning API listening on')));
      assert.match(summary[1] ?? '', new RegExp(`\\[Main\\] .*First admin key: in ${escape(keyFile)} `));
      assert.match(summary[2] ?? '', new RegExp(`Console: ${escape(running.baseUrl)}/console`));
      assert.ok(statSync(join(cwd, 'data', 'provisioning.sqlite')).isFile());
      assert.equal(statSync(join(cwd, 'data')).mode & 0o777, 0o700, 'the data folder (database with signing secrets) is owner-only');

      assert.equal((await fetch(`${running.baseUrl}/health`)).status, 200);
      assert.equal((await fetch(`${running.baseUrl}/health/ready`)).status, 200);
      const docs = await fetch(`${running.baseUrl}/docs`);
      assert.equal(docs.status, 200);
      const handlers = await fetch(`${running.baseUrl}/api/v1/handlers`, { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(handlers.status, 200);
    } finally {
      assert.equal(await stopService(running), 0, 'SIGTERM must end the service cleanly');
    }
    // A second start on the same database creates no new key, and still says where the first one is.
    const again = await startService('service', cwd, {});
    try {
      assert.match(again.output(), /The first admin key is in .*admin-key\.txt/);
      assert.match(again.output(), /\[Main\] .*First admin key: in .*admin-key\.txt/);
      assert.doesNotMatch(again.output(), /First admin key written/);
    } finally {
      await stopService(again);
    }
  });

  it('keeps the route-mapping lines for LOG_LEVEL=debug', async () => {
    const running = await startService('debug', cwd, { LOG_LEVEL: 'debug' });
    try {
      assert.match(running.output(), /\[RouterExplorer\] .*Mapped \{\/api\/v1\/handlers, POST\} route/);
      assert.match(running.output(), /\[RoutesResolver\] /);
    } finally {
      await stopService(running);
    }
  });

  it('refuses to start on a bad value and names the variable', async () => {
    const { code, output: text } = await runToExit(cwd, { PORT: 'eighty', LOG_LEVEL: 'loud', BOOTSTRAP_ADMIN_KEY: 'short secret value' });
    assert.equal(code, 1);
    assert.match(text, /PORT/);
    assert.match(text, /LOG_LEVEL/);
    assert.match(text, /BOOTSTRAP_ADMIN_KEY/);
    assert.ok(!text.includes('short secret value'), 'a secret value was echoed');
  });
});

forEachDatabase('BOOTSTRAP_ADMIN_KEY on a fresh database', { start: false }, (t) => {
  it('installs the supplied key as the first admin key and writes no key file', async () => {
    const supplied = 'deploy_' + 'k'.repeat(40);
    const running = await t.service('service', { BOOTSTRAP_ADMIN_KEY: supplied });
    try {
      assert.match(running.output(), /First admin key installed from BOOTSTRAP_ADMIN_KEY/);
      assert.match(running.output(), /\[Main\] .*First admin key: the value of BOOTSTRAP_ADMIN_KEY/);
      assert.ok(!running.output().includes(supplied));
      const ok = await fetch(`${running.baseUrl}/api/v1/cache`, { headers: { Authorization: `Bearer ${supplied}` } });
      assert.equal(ok.status, 200);
      assert.throws(() => statSync(join(t.dir, 'data', 'admin-key.txt')));
    } finally {
      await stopService(running);
    }
  });
});

describe('SQLite serves one instance and says so when asked for more', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'prov-single-'));
  });
  after(async () => {
    await killAll();
    rmSync(cwd, { recursive: true, force: true });
  });

  async function refused(env: Record<string, string>): Promise<string> {
    const { code, output } = await runToExit(cwd, env);
    assert.equal(code, 1, output);
    return output;
  }

  it('refuses a second instance on the same file while the first runs, and starts once the first is killed', async () => {
    const env = { DATABASE_URL: 'sqlite:./single.sqlite', BOOTSTRAP_ADMIN_KEY: 'single_' + 'k'.repeat(40) };
    const first = await startService('first', cwd, env);
    const text = await refused(env);
    assert.match(text, /Another instance is serving the SQLite database .*single\.sqlite/);
    assert.match(text, /use MySQL\/MariaDB/);
    assert.ok(!text.includes('    at '), 'a clear message, not a stack trace');
    assert.equal((await fetch(`${first.baseUrl}/health`)).status, 200, 'the first instance is unharmed');

    first.child.kill('SIGKILL'); // no clean-up: the lock must not outlive the process
    await once(first.child, 'exit');
    const second = await startService('second', cwd, env);
    const code = await stopService(second);
    assert.equal(code, 0, `the second instance ended with ${code ?? second.child.signalCode}:\n${second.output()}`);
  });

  it('warns that a split role on SQLite leaves the other half undone', async () => {
    const env = { DATABASE_URL: 'sqlite:./roles.sqlite', INSTANCE_ROLE: 'api', BOOTSTRAP_ADMIN_KEY: 'roles_' + 'k'.repeat(40) };
    const running = await startService('api-only', cwd, env);
    // The warning is written just after the line startService waits for; the pipe may bring it later.
    const warning = /INSTANCE_ROLE=api on SQLite: no other instance can share this database, so nothing is delivered/;
    await eventually(() => (warning.test(running.output()) ? true : undefined), 5_000, 'the split-role warning').catch(() => undefined);
    assert.match(running.output(), warning);
    assert.equal(await stopService(running), 0);
  });
});
