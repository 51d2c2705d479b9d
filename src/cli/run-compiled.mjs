#!/usr/bin/env node
// Runs a compiled command-line script, building the project first only when the build is missing
// or older than what it is compiled from:
//   node src/cli/run-compiled.mjs keys create --name "billing core" --scopes events
// runs dist/src/cli/keys.js with the arguments after the name (`npm run keys -- …` does this).
//
// Why a modification-time check and not `tsc --incremental`: `npm run build` and `npm run
// build:test` both delete dist/ and compile everything, so every compiled file is newer than
// every source it was made from; a source edited (or checked out) since is newer than the
// compiled entry. tsc's build info, by contrast, lives beside dist/ and believes outputs are
// still there after either build has deleted them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What the compiled output depends on: every TypeScript file under src/, ormconfig.ts and the build settings. */
const INPUTS = ['src', 'ormconfig.ts', 'tsconfig.json', 'tsconfig.build.json'];

/** The newest modification time (ms) among the inputs under `root`; 0 when there are none. */
export function newestInput(root = ROOT) {
  let newest = 0;
  const visit = (path) => {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return; // an optional input that is absent
    }
    if (stat.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (path.endsWith('.ts') || path.endsWith('.json')) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const input of INPUTS) visit(join(root, input));
  return newest;
}

/** True when `entry` (a compiled file under `root`) exists and is newer than every input. */
export function isBuildCurrent(entry, root = ROOT) {
  if (!existsSync(entry)) return false;
  return statSync(entry).mtimeMs >= newestInput(root);
}

function main(argv) {
  const [name, ...args] = argv;
  if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
    process.stderr.write('usage: node src/cli/run-compiled.mjs <name> [arguments...]   (runs dist/src/cli/<name>.js)\n');
    return 2;
  }
  const entry = join(ROOT, 'dist', 'src', 'cli', `${name}.js`);
  if (!isBuildCurrent(entry)) {
    process.stderr.write(`${name}: building first (dist/ is missing or older than src/)\n`);
    const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
    if (built.status !== 0) return built.status ?? 1;
    if (!existsSync(entry)) {
      process.stderr.write(`${name}: no such command (dist/src/cli/${name}.js)\n`);
      return 2;
    }
  }
  const ran = spawnSync(process.execPath, [entry, ...args], { stdio: 'inherit' });
  if (ran.error) throw ran.error;
  return ran.status ?? 1;
}

// Run only when executed, not when a test imports the functions above.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
