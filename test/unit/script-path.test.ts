import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DomainError } from '../../src/common/errors.js';
import { expectDomainError } from '../utils/domain-error.js';
import { resolveScriptPath } from '../../src/handlers/script-path.js';


describe('resolveScriptPath', () => {
  let base: string;
  let scripts: string;
  let outsideFile: string;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'script-path-test-'));
    scripts = join(base, 'scripts');
    mkdirSync(join(scripts, 'sub'), { recursive: true });
    writeFileSync(join(scripts, 'hook.sh'), '#!/bin/sh\n');
    writeFileSync(join(scripts, 'sub', 'nested.sh'), '#!/bin/sh\n');
    outsideFile = join(base, 'secret.sh');
    writeFileSync(outsideFile, '#!/bin/sh\n');
    symlinkSync(outsideFile, join(scripts, 'link-out.sh'));
    symlinkSync(join(scripts, 'sub', 'nested.sh'), join(scripts, 'link-in.sh'));
    symlinkSync(base, join(scripts, 'dir-link-out'));
    // a sibling folder whose name starts with the scripts folder's name
    mkdirSync(join(base, 'scripts-evil'));
    writeFileSync(join(base, 'scripts-evil', 'x.sh'), '#!/bin/sh\n');
  });

  after(() => {
    rmSync(base, { recursive: true, force: true });
  });

  it('returns the real path of a file inside', () => {
    assert.equal(resolveScriptPath(scripts, 'hook.sh'), realpathSync(join(scripts, 'hook.sh')));
  });

  it('accepts a file in a subfolder', () => {
    assert.equal(resolveScriptPath(scripts, 'sub/nested.sh'), realpathSync(join(scripts, 'sub', 'nested.sh')));
    assert.equal(resolveScriptPath(scripts, './sub/nested.sh'), realpathSync(join(scripts, 'sub', 'nested.sh')));
  });

  it('accepts an absolute path inside', () => {
    assert.equal(resolveScriptPath(scripts, join(realpathSync(scripts), 'hook.sh')), realpathSync(join(scripts, 'hook.sh')));
  });

  it('accepts a symlink inside that points inside, returning the target', () => {
    assert.equal(resolveScriptPath(scripts, 'link-in.sh'), realpathSync(join(scripts, 'sub', 'nested.sh')));
  });

  it('refuses ../x', () => {
    expectDomainError(() => resolveScriptPath(scripts, '../secret.sh'), 'SCRIPT_PATH_OUTSIDE');
    expectDomainError(() => resolveScriptPath(scripts, '../x'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses a/../../x', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'a/../../x'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses .. even when it would stay inside', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'sub/../hook.sh'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses an absolute path outside', () => {
    expectDomainError(() => resolveScriptPath(scripts, outsideFile), 'SCRIPT_PATH_OUTSIDE');
    expectDomainError(() => resolveScriptPath(scripts, '/etc/passwd'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses a sibling folder sharing the name prefix', () => {
    expectDomainError(() => resolveScriptPath(scripts, join(base, 'scripts-evil', 'x.sh')), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses a symlink inside that points to a file outside', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'link-out.sh'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses a path through a symlinked folder leading outside', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'dir-link-out/secret.sh'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses a NUL byte', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'hook.sh\0.txt'), 'SCRIPT_PATH_OUTSIDE');
  });

  it('refuses the scripts folder itself', () => {
    assert.throws(() => resolveScriptPath(scripts, '.'), DomainError);
    assert.throws(() => resolveScriptPath(scripts, ''), DomainError);
  });

  it('reports a missing file as SCRIPT_NOT_FOUND', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'missing.sh'), 'SCRIPT_NOT_FOUND');
  });

  it('reports a directory as SCRIPT_NOT_FOUND', () => {
    expectDomainError(() => resolveScriptPath(scripts, 'sub'), 'SCRIPT_NOT_FOUND');
  });

  it('reports a missing scripts folder as SCRIPT_NOT_FOUND', () => {
    expectDomainError(() => resolveScriptPath(join(base, 'no-such-folder'), 'hook.sh'), 'SCRIPT_NOT_FOUND');
  });
});
