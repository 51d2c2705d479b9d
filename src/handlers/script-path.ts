import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { DomainError } from '../common/errors.js';

function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Resolves a script task to a real file inside the scripts folder. Refuses `..` segments,
 * absolute paths outside the folder, and symlinks whose target lies outside it.
 * Called when a handler is saved and again before each run.
 */
export function resolveScriptPath(scriptsDir: string, task: string): string {
  const outside = () =>
    DomainError.field('SCRIPT_PATH_OUTSIDE', 'task', 'task must be a path inside the scripts folder (no "..", no link leading out)');
  if (task.includes('\0') || task.split(/[\\/]/).includes('..')) throw outside();
  let root: string;
  try {
    root = realpathSync.native(resolve(scriptsDir));
  } catch {
    throw DomainError.field('SCRIPT_NOT_FOUND', 'task', 'The configured scripts folder does not exist');
  }
  const candidate = resolve(root, task);
  if (!inside(root, candidate)) throw outside();
  let real: string;
  try {
    real = realpathSync.native(candidate);
  } catch {
    throw DomainError.field('SCRIPT_NOT_FOUND', 'task', 'task names no file in the scripts folder');
  }
  if (!inside(root, real)) throw outside();
  if (!statSync(real).isFile()) throw DomainError.field('SCRIPT_NOT_FOUND', 'task', 'task names no file in the scripts folder');
  return real;
}
