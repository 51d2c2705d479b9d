import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { killAll, Running, startService } from '../utils/service-process.js';

/**
 * The request's access line (src/common/request-logging.ts) in the compiled service's real
 * output: every request at `debug`, a 5xx one (`warn`, `request failed`) at the default level.
 * What else each level writes, and the id on the lines written while serving a request, are
 * checked on the hooks themselves (test/unit/request-logging.test.ts).
 */
const kinds = await databaseKinds();

/** The JSON lines of a service's output. */
function entries(service: Running): Record<string, unknown>[] {
  return service
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function call(service: Running, key: string, path: string, requestId: string): Promise<{ status: number; echoed: string | null }> {
  const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}`, 'x-request-id': requestId } });
  await response.text();
  return { status: response.status, echoed: response.headers.get('x-request-id') };
}

/** Waits until a line for `requestId` shows (lines are written after the answer is sent), or 2 s. */
async function linesOf(service: Running, requestId: string, expected: number): Promise<Record<string, unknown>[]> {
  for (let waited = 0; ; waited += 20) {
    const found = entries(service).filter((entry) => entry.request_id === requestId);
    if (found.length >= expected || waited >= 2000) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const kind of kinds) {
  describe(`request ids and access lines in the service's output [${kind.name}]`, { skip: kind.skip }, () => {
    const dbs: TestDatabase[] = [];
    const dirs: string[] = [];
    const adminKey = `adm_${randomBytes(24).toString('hex')}`;
    const start = async (name: string, env: Record<string, string>) => {
      const db = await kind.create();
      dbs.push(db);
      const dir = mkdtempSync(join(tmpdir(), 'prov-request-logging-'));
      dirs.push(dir);
      return startService(name, dir, { DATABASE_URL: db.url, BOOTSTRAP_ADMIN_KEY: adminKey, LOG_FORMAT: 'json', ...env });
    };
    let debug: Running;
    let worker: Running;

    before(async () => {
      debug = await start('debug', { LOG_LEVEL: 'debug' });
      worker = await start('worker', { LOG_LEVEL: 'log', INSTANCE_ROLE: 'worker' });
    });
    after(async () => {
      await killAll();
      for (const db of dbs) await db.drop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('at debug: one access line per request, with its id, route, status and duration', async () => {
      assert.deepEqual(await call(debug, adminKey, '/api/v1/handlers', 'rl-debug-ok'), { status: 200, echoed: 'rl-debug-ok' });
      assert.deepEqual(await call(debug, 'adm_wrong', '/api/v1/handlers', 'rl-debug-401'), { status: 401, echoed: 'rl-debug-401' });
      const [ok] = await linesOf(debug, 'rl-debug-ok', 1);
      assert.ok(ok, 'an access line for the request');
      assert.deepEqual(
        { level: ok.level, context: ok.context, message: ok.message, method: ok.method, path: ok.path, status: ok.status },
        { level: 'debug', context: 'HTTP', message: 'request', method: 'GET', path: '/api/v1/handlers', status: 200 },
      );
      assert.equal(typeof ok.duration_ms, 'number');
      const refused = await linesOf(debug, 'rl-debug-401', 1);
      assert.deepEqual(
        refused.map((entry) => [entry.level, entry.status, entry.path]),
        [['debug', 401, '/api/v1/handlers']],
      );
    });

    it('at the default level: a 5xx answer writes `request failed` at warn, with the request id', async () => {
      const answer = await call(worker, adminKey, '/api/v1/handlers', 'rl-worker-503');
      assert.deepEqual(answer, { status: 503, echoed: 'rl-worker-503' });
      const lines = await linesOf(worker, 'rl-worker-503', 1);
      assert.deepEqual(
        lines.map((entry) => [entry.level, entry.message, entry.context, entry.status, entry.path]),
        [['warn', 'request failed', 'HTTP', 503, '/api/v1/handlers']],
      );
    });
  });
}
