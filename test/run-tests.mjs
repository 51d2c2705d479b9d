// Runs the compiled test tiers with Node's test runner, one file at a time, in UTC.
// Usage: node test/run-tests.mjs [unit|integration|service|e2e|browser ...]   (default: all tiers)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const tiers = process.argv.length > 2 ? process.argv.slice(2) : ['unit', 'integration', 'service', 'e2e', 'browser'];
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
};
for (const tier of tiers) {
  const dir = join('dist', 'test', tier);
  if (existsSync(dir)) walk(dir);
}
if (files.length === 0) {
  console.error(`No compiled tests found for: ${tiers.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=120000', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, TZ: 'UTC', NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
