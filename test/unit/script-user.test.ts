import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveScriptUser, scriptAccessProblem, ScriptUserError, scriptUserAtStart } from '../../src/calls/script-user.js';

describe('resolveScriptUser', () => {
  let dir: string;
  let passwd: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'prov-passwd-'));
    passwd = join(dir, 'passwd');
    writeFileSync(passwd, ['root:x:0:0:root:/root:/bin/sh', 'scripts:x:1500:1600::/nonexistent:/usr/sbin/nologin', 'nobody:x:65534:65534::/:/bin/false', ''].join('\n'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('resolves a name through the passwd file, with its primary group', () => {
    assert.deepEqual(resolveScriptUser('scripts', passwd), { uid: 1500, gid: 1600, label: 'scripts (uid 1500)' });
  });
  it('takes uid:gid as given, and a lone uid with its passwd group (or the same number)', () => {
    assert.deepEqual(resolveScriptUser('2000:2001', passwd), { uid: 2000, gid: 2001, label: 'uid 2000' });
    assert.equal(resolveScriptUser('1500', passwd).gid, 1600);
    assert.equal(resolveScriptUser('3000', passwd).gid, 3000);
  });
  it('refuses root, group 0, an unknown name and garbage', () => {
    for (const spec of ['root', '0', '0:5', '1500:0', 'no-such-user-here', 'a b', '-1']) {
      assert.throws(() => resolveScriptUser(spec, passwd), ScriptUserError, spec);
    }
  });
});

describe('scriptUserAtStart', () => {
  it('refuses to start as root with script handlers enabled and no SCRIPT_RUN_AS_USER, naming the variable', () => {
    assert.throws(() => scriptUserAtStart({ enabled: true }, 0), (error: Error) => error instanceof ScriptUserError && /SCRIPT_RUN_AS_USER/.test(error.message));
    assert.throws(() => scriptUserAtStart({ enabled: true, runAsUser: ' ' }, 0), ScriptUserError);
  });
  it('starts when scripts are off, when a user is set, or as a non-root service (scripts then run as it)', () => {
    assert.equal(scriptUserAtStart({ enabled: false }, 0), undefined);
    assert.equal(scriptUserAtStart({ enabled: true }, 1000), undefined);
    assert.equal(scriptUserAtStart({ enabled: true, runAsUser: '65534:65534' }, 0)?.uid, 65534);
  });
  it('refuses a non-root service switching to another user (it could not)', () => {
    assert.throws(() => scriptUserAtStart({ enabled: true, runAsUser: '65534:65534' }, 1000), /needs the service to run as root/);
    assert.equal(scriptUserAtStart({ enabled: true, runAsUser: '1000:1000' }, 1000)?.uid, 1000);
  });
});

describe('scriptAccessProblem', () => {
  const user = { uid: 65534, gid: 65534, label: 'nobody (uid 65534)' };
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'prov-access-'));
    mkdirSync(join(root, 'scripts'));
    writeFileSync(join(root, 'scripts', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('names the folder the user cannot enter (mkdtemp makes 0700 folders), then passes once it can', () => {
    chmodSync(root, 0o700);
    assert.match(scriptAccessProblem(join(root, 'scripts', 'run.sh'), user) ?? '', new RegExp(`cannot enter the folder ${root}\\b`));
    chmodSync(root, 0o711);
    assert.equal(scriptAccessProblem(join(root, 'scripts', 'run.sh'), user), null);
  });
  it('needs the script readable and executable by the user', () => {
    chmodSync(root, 0o755);
    chmodSync(join(root, 'scripts', 'run.sh'), 0o711);
    assert.match(scriptAccessProblem(join(root, 'scripts', 'run.sh'), user) ?? '', /cannot read and execute/);
    chmodSync(join(root, 'scripts', 'run.sh'), 0o755);
    assert.equal(scriptAccessProblem(join(root, 'scripts', 'run.sh'), user), null);
  });
});
