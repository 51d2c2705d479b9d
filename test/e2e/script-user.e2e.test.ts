import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachDatabase } from '../utils/suite.js';
import { api, keysScript, Running, runToExit, tail } from '../utils/service-process.js';

const asRoot = process.getuid?.() === 0;
const notRoot = asRoot ? false : 'these tests need root (scripts switch to another user)';

forEachDatabase('scripts run as SCRIPT_RUN_AS_USER, never as root', { start: false, skip: notRoot }, (t) => {
  let root: string;
  let scripts: string;
  let service: Running | undefined;

  before(() => {
    root = t.dir;
    chmodSync(root, 0o755); // nobody must reach the scripts (mkdtemp makes 0700 folders)
    scripts = join(root, 'scripts');
    mkdirSync(scripts, { mode: 0o755 });
  });

  it('refuses to start as root with script handlers enabled and no SCRIPT_RUN_AS_USER (or root as the user), saying what to set', async () => {
    const base = { DATABASE_URL: t.db.url, BOOTSTRAP_ADMIN_KEY: t.adminKey, SCRIPT_HANDLERS_ENABLED: 'true', SCRIPTS_DIR: scripts };
    const variants: Record<string, string>[] = [{}, { SCRIPT_RUN_AS_USER: 'root' }, { SCRIPT_RUN_AS_USER: 'no-such-user-here' }];
    for (const extra of variants) {
      const { code, output } = await runToExit(root, { ...base, ...extra });
      assert.notEqual(code, 0, `started with ${JSON.stringify(extra)}:\n${output}`);
      assert.match(output, /SCRIPT_RUN_AS_USER/, output);
      assert.doesNotMatch(output, /Swagger UI/, 'it must not have started listening');
    }
  });

  it('as nobody, a script reading the service\'s /proc/<pid>/environ gets nothing secret', async () => {
    service = await t.service('runas', {
      SCRIPT_HANDLERS_ENABLED: 'true',
      SCRIPT_RUN_AS_USER: 'nobody',
      SCRIPTS_DIR: scripts,
    });
    const pid = service.child.pid!;
    // The secrets really are in the service's environment, readable by its own user (root):
    // what the script is denied below is there to be found.
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    assert.ok(environ.includes(t.adminKey) && environ.includes(t.db.url), 'the service environment holds the secrets');

    writeFileSync(
      join(scripts, 'peek.sh'),
      [
        '#!/bin/sh',
        'cat >/dev/null',
        'echo "uid=$(id -u) ppid=$PPID"',
        `for pid in $PPID ${pid}; do`,
        '  echo "== /proc/$pid/environ"',
        "  cat /proc/$pid/environ 2>&1 | tr '\\000' '\\n'",
        '  echo "== /proc/$pid/cmdline"',
        "  cat /proc/$pid/cmdline 2>&1 | tr '\\000' ' '; echo",
        'done',
        'exit 0',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const created = await keysScript(t.db.url, 'create', '--name', 'scripts', '--scopes', 'internal');
    const internal = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(internal, created.stdout);

    const handler = await api(service, internal, 'POST', '/api/v1/handlers', { name: 'peek', event: 'clients.create', type: 'script', task: 'peek.sh' });
    assert.equal(handler.status, 201, handler.text + tail(service));
    const sent = await api(service, internal, 'POST', `/api/v1/handlers/${handler.body.id}/test`, {});
    assert.equal(sent.status, 200, sent.text + tail(service));
    const output = String(sent.body.response_data);
    assert.equal(sent.body.status, 'success', output);
    assert.match(output, new RegExp(`^uid=65534 ppid=${pid}$`, 'm'), 'the script ran as nobody, a child of the service');
    assert.match(output, /environ: Permission denied/, 'the script tried and was refused');
    assert.ok(!output.includes(t.adminKey), 'the script read the admin key');
    assert.ok(!output.includes(t.db.url), 'the script read DATABASE_URL');
    assert.ok(!output.includes('BOOTSTRAP_ADMIN_KEY'), 'the script read the environment');
    const row = await api(service, internal, 'GET', `/api/v1/execution-logs/${sent.body.id}`);
    assert.ok(!row.text.includes(t.adminKey) && !row.text.includes(t.db.url));
  });

  it('refuses at save a script the user cannot reach, naming the user and the folder', async () => {
    assert.ok(service, 'the service of the previous test runs');
    const hidden = join(scripts, 'private');
    mkdirSync(hidden, { mode: 0o700 });
    writeFileSync(join(hidden, 'run.sh'), '#!/bin/sh\ncat >/dev/null\necho ok\n', { mode: 0o755 });
    const created = await keysScript(t.db.url, 'create', '--name', 'scripts 2', '--scopes', 'internal');
    const internal = /^(pk_\S+)$/m.exec(created.stdout)![1]!;
    const refused = await api(service!, internal, 'POST', '/api/v1/handlers', { name: 'hidden', event: 'clients.update', type: 'script', task: 'private/run.sh' });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.body.code, 'SCRIPT_NOT_EXECUTABLE');
    assert.equal(refused.body.details[0].field, 'task');
    assert.match(refused.body.message, /nobody/);
    assert.ok(refused.body.message.includes(hidden), refused.body.message);

    chmodSync(hidden, 0o755);
    const saved = await api(service!, internal, 'POST', '/api/v1/handlers', { name: 'hidden', event: 'clients.update', type: 'script', task: 'private/run.sh' });
    assert.equal(saved.status, 201, saved.text);
    const sent = await api(service!, internal, 'POST', `/api/v1/handlers/${saved.body.id}/test`, {});
    assert.equal(sent.body.status, 'success', sent.text);
    assert.equal(sent.body.response_data, 'ok\n');
  });
});
