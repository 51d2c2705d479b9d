import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachDatabase } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { bearer } from '../utils/test-app.js';
import { handlerBody } from '../factories/handler.factory.js';


let root: string;
let scripts: string;

/** A folder of scripts, a script outside it and symbolic links to both. */
function prepareScripts(): void {
  root = mkdtempSync(join(tmpdir(), 'prov-scripts-'));
  // Scripts run as nobody (SCRIPT_RUN_AS_USER), who must be able to enter the folders (mkdtemp makes them 0700).
  chmodSync(root, 0o755);
  scripts = join(root, 'scripts');
  mkdirSync(join(scripts, 'crm'), { recursive: true });
  writeFileSync(join(scripts, 'notify.sh'), '#!/bin/sh\ncat >/dev/null\n', { mode: 0o755 });
  writeFileSync(join(scripts, 'crm', 'push.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  writeFileSync(join(root, 'outside.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  symlinkSync(join(root, 'outside.sh'), join(scripts, 'escape.sh'));
  symlinkSync(join(scripts, 'notify.sh'), join(scripts, 'alias.sh'));
}

const env = () => ({ SCRIPT_HANDLERS_ENABLED: 'true', SCRIPT_RUN_AS_USER: 'nobody', SCRIPTS_DIR: scripts });

forEachDatabase('script handlers, enabled in configuration', { prepare: prepareScripts, env }, (t) => {
  let internal: Record<string, string>;

  before(async () => {
    internal = await keyHeaders(t, 'internal');
  });
  t.cleanup(() => rmSync(root, { recursive: true, force: true }));

  const script = (task: string, overrides: Record<string, unknown> = {}) =>
    handlerBody({ type: 'script', task, ...overrides });

  it('an internal key creates, edits, toggles and deletes script handlers inside the folder', async () => {
    for (const task of ['notify.sh', 'crm/push.sh', 'alias.sh']) {
      const created = await t.http.post('/api/v1/handlers').set(internal).send(script(task));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.type, 'script');
      assert.equal(created.body.target_url, null);
    }
    const listed = await t.http.get('/api/v1/handlers?type=script').set(internal);
    assert.equal(listed.body.total, 3);
    const id = listed.body.items[0].id;
    assert.equal((await t.http.patch(`/api/v1/handlers/${id}`).set(internal).send({ priority: 2 })).status, 200);
    assert.equal((await t.http.post(`/api/v1/handlers/${id}/toggle`).set(internal)).status, 200);
    assert.equal((await t.http.delete(`/api/v1/handlers/${id}`).set(internal)).status, 204);
  });

  it('an admin key without the internal scope can neither create nor touch script handlers', async () => {
    const admin = bearer(t.adminKey);
    const refused = await t.http.post('/api/v1/handlers').set(admin).send(script('notify.sh'));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'SCOPE_FORBIDDEN');
    const existing = await t.http.post('/api/v1/handlers').set(internal).send(script('notify.sh', { name: 'kept' }));
    const id = existing.body.id;
    assert.equal((await t.http.patch(`/api/v1/handlers/${id}`).set(admin).send({ name: 'taken' })).status, 403);
    assert.equal((await t.http.delete(`/api/v1/handlers/${id}`).set(admin)).status, 403);
    const toScript = await t.http.post('/api/v1/handlers').set(admin).send(handlerBody());
    const converted = await t.http.patch(`/api/v1/handlers/${toScript.body.id}`).set(admin).send({ type: 'script', task: 'notify.sh' });
    assert.equal(converted.status, 403);
    const after = await t.http.get(`/api/v1/handlers/${id}`).set(admin);
    assert.equal(after.body.name, 'kept');
    assert.equal((await t.http.get(`/api/v1/handlers/${toScript.body.id}`).set(admin)).body.type, 'http');
  });

  const escapes: [string, string, string][] = [
    ['a parent-folder path', '../outside.sh', 'SCRIPT_PATH_OUTSIDE'],
    ['a path climbing out through a subfolder', 'crm/../../outside.sh', 'SCRIPT_PATH_OUTSIDE'],
    ['an absolute path outside', '/bin/sh', 'SCRIPT_PATH_OUTSIDE'],
    ['a symlink leading outside', 'escape.sh', 'SCRIPT_PATH_OUTSIDE'],
    ['a missing file', 'nope.sh', 'SCRIPT_NOT_FOUND'],
    ['a folder', 'crm', 'SCRIPT_NOT_FOUND'],
  ];
  for (const [label, task, code] of escapes) {
    it(`refuses ${label} with ${code} and stores nothing`, async () => {
      const before = await t.http.get('/api/v1/handlers?type=script&per_page=500').set(internal);
      const response = await t.http.post('/api/v1/handlers').set(internal).send(script(task));
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, code);
      assert.equal(response.body.details[0].field, 'task');
      const after = await t.http.get('/api/v1/handlers?type=script&per_page=500').set(internal);
      assert.equal(after.body.total, before.body.total);
    });
  }
});
