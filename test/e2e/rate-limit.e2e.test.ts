import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { api, killAll, startService, tail, type Running } from '../utils/service-process.js';

/**
 * A handler's rate limit holds across workers: two worker processes (and an API process) on one
 * MariaDB/MySQL database drain a queue of 180 deliveries to a handler limited to 20 calls a
 * second. The rate measured at the receiver over five seconds of the run is within 10% of the
 * limit, and both workers made calls. (SQLite serves a single instance: see the README.)
 */
const kinds = (await databaseKinds()).filter((kind) => kind.name === 'mysql');
const LIMIT = 20;
const EVENTS = 180;

for (const kind of kinds) {
  describe(`rate limit shared by two workers [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let dir: string;
    let receiver: TestReceiver;
    const processes: Running[] = [];

    before(async () => {
      db = await kind.create();
      dir = mkdtempSync(join(tmpdir(), 'prov-rate-'));
      receiver = await new TestReceiver().start();
    });
    after(async () => {
      await killAll();
      await receiver?.stop();
      await db?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it(`delivers at ${LIMIT} a second, within 10%, with two workers claiming`, { timeout: 120_000 }, async (t) => {
      const adminKey = `rate_${randomBytes(16).toString('hex')}`;
      const common = { DATABASE_URL: db.url, BOOTSTRAP_ADMIN_KEY: adminKey, LOG_LEVEL: 'log' };
      const apiProcess = await startService('api', dir, { ...common, INSTANCE_ROLE: 'api' });
      processes.push(apiProcess);
      const created = await api(apiProcess, adminKey, 'POST', '/api/v1/handlers', {
        name: 'limited',
        event: 'clients.update',
        type: 'http',
        task: receiver.task('/limited'),
        rate_limit: LIMIT,
        rate_period: 'second',
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual([created.body.rate_limit, created.body.rate_period], [LIMIT, 'second']);
      // The queue fills before any worker runs: the limit, not the arrival of events, sets the pace.
      const events = Array.from({ length: EVENTS }, (_, i) => ({ event: 'clients.update', object_id: i + 1, data: { id: i + 1 } }));
      const batch = await api(apiProcess, adminKey, 'POST', '/api/v1/events/batch', { events });
      assert.equal(batch.status, 200, batch.text);

      const workers = await Promise.all([1, 2].map((n) => startService(`worker-${n}`, dir, { ...common, INSTANCE_ROLE: 'worker' })));
      processes.push(...workers);
      await eventually(() => (receiver.requests.length >= EVENTS ? true : undefined), 60_000, 'every delivery').catch((error) =>
        assert.fail(`${(error as Error).message}: ${receiver.requests.length} received${processes.map((p) => tail(p, 15)).join('')}`),
      );

      // Five seconds from one second after the first call: past the start, where the limiter may let a poll interval's worth go ahead.
      const first = receiver.requests[0]!.at;
      const from = first + 1000;
      const inWindow = receiver.requests.filter((request) => request.at >= from && request.at < from + 5000).length;
      const rate = inWindow / 5;
      const overall = (EVENTS - 1) / ((receiver.requests.at(-1)!.at - first) / 1000);
      t.diagnostic(`${rate} calls a second over five seconds, ${overall.toFixed(1)} over the whole run, limit ${LIMIT}`);
      assert.ok(Math.abs(rate - LIMIT) <= LIMIT * 0.1, `measured ${rate} a second against a limit of ${LIMIT}`);
      assert.ok(overall <= LIMIT * 1.1, `whole run: ${overall.toFixed(1)} a second`);
      // Each worker logs one line per outcome once it is written, a moment after the call.
      const calls = () => workers.map((worker) => (worker.output().match(/delivery succeeded/g) ?? []).length);
      await eventually(() => (calls()[0]! + calls()[1]! === EVENTS ? true : undefined), 10_000, 'every outcome logged');
      t.diagnostic(`calls per worker: ${calls().join(', ')}`);
      assert.ok(calls().every((n) => n > 0), 'both workers delivered');
    });
  });
}
