import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'mysql2/promise';
import { forEachDatabase } from '../utils/suite.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { api, Running, tail } from '../utils/service-process.js';

/**
 * Scale-out on one MariaDB/MySQL database: 1 API-only process and 3 worker-only processes
 * deliver 5,000 events to 3 handlers each (15,000 calls) to a receiver on 127.0.0.1. One worker
 * is SIGKILLed mid-run. Afterwards every delivery was received at least once, duplicates are
 * no more than the killed worker held, and within every event the handlers ran in priority
 * order. (SQLite serves a single instance; see the README.)
 */
const EVENTS = 5000;
const HANDLERS = 3;
const WORKERS = 3;

forEachDatabase(`scale-out: 1 API and ${WORKERS} workers on one database, one worker killed`, { only: 'mysql', start: false }, (t) => {
  let receiver: TestReceiver;
  const processes: Running[] = [];

  before(async () => {
    receiver = await t.receiver();
  });

  it(`delivers ${EVENTS} events x ${HANDLERS} handlers at least once, in priority order per event`, { timeout: 240_000 }, async () => {
    const adminKey = t.adminKey;
    const common = { LOG_LEVEL: 'log', DISPATCH_LEASE_MS: '3000', DISPATCH_POLL_INTERVAL_MS: '50' };
    const apiProcess = await t.service('api', { ...common, INSTANCE_ROLE: 'api' });
    processes.push(apiProcess);
    // Migrations ran in the API process; the workers start together.
    const workers = await Promise.all(
      Array.from({ length: WORKERS }, (_, n) => t.service(`worker-${n + 1}`, { ...common, INSTANCE_ROLE: 'worker' })),
    );
    processes.push(...workers);
    // A worker answers probes and scrapes, not the API.
    const refused = await api(workers[0]!, adminKey, 'POST', '/api/v1/events', { event: 'clients.update', object_id: 1 });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'WORKER_ONLY');
    assert.equal((await fetch(`${workers[0]!.baseUrl}/health/ready`)).status, 200);
    assert.equal((await api(workers[0]!, adminKey, 'GET', '/metrics')).status, 200);
    const diagnostics = () => processes.map((p) => tail(p, 15)).join('');

    for (let priority = 1; priority <= HANDLERS; priority++) {
      const created = await api(apiProcess, adminKey, 'POST', '/api/v1/handlers', {
        name: `p${priority}`,
        event: 'clients.update',
        type: 'http',
        task: receiver.task(`/p${priority}`),
        priority,
        retry_limit: 5,
      });
      assert.equal(created.status, 201, created.text);
    }
    // The workers read handler rows when they claim; the API plans deliveries from its cache.
    for (let first = 1; first <= EVENTS; first += 500) {
      const events = Array.from({ length: 500 }, (_, i) => ({ event: 'clients.update', object_id: first + i, data: { id: first + i } }));
      const batch = await api(apiProcess, adminKey, 'POST', '/api/v1/events/batch', { events });
      assert.equal(batch.status, 200, batch.text);
      assert.equal(batch.body.accepted, 500);
    }

    // Kill worker 2 while it holds deliveries, a while into the run.
    const victim = workers[1]!;
    const sql = await createConnection({ uri: t.db.url.replace(/^mariadb:/, 'mysql:') });
    const heldBy = async (pid: number) => {
      const [rows] = await sql.query(
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'in_progress' AND lease_owner LIKE ?",
        [`%:${pid}:%`],
      );
      return Number((rows as { n: number }[])[0]!.n);
    };
    await eventually(async () => (receiver.requests.length >= (EVENTS * HANDLERS) / 4 ? true : undefined), 120_000);
    await eventually(async () => ((await heldBy(victim.child.pid!)) > 0 ? true : undefined), 10_000, 'the victim holding deliveries');
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));
    const held = await heldBy(victim.child.pid!);
    const receivedAtKill = receiver.requests.length;

    // Everything arrives; the killed worker's claims are taken over when their leases end.
    const seen = new Set<string>();
    let parsed = 0;
    await eventually(
      async () => {
        for (; parsed < receiver.requests.length; parsed++) {
          const request = receiver.requests[parsed]!;
          seen.add(`${JSON.parse(request.body).event.object_id}${request.path}`);
        }
        return seen.size >= EVENTS * HANDLERS ? true : undefined;
      },
      180_000,
      'every delivery received',
    ).catch((error) => assert.fail(`${(error as Error).message}: ${receiver.requests.length} received${diagnostics()}`));
    await eventually(async () => {
      const [rows] = await sql.query("SELECT COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'in_progress')");
      return Number((rows as { n: number }[])[0]!.n) === 0 ? true : undefined;
    }, 30_000);
    const [failed] = await sql.query("SELECT COUNT(*) AS n FROM deliveries WHERE status <> 'succeeded'");
    await sql.end();
    await sleep(300); // a late duplicate would still be on its way

    const total = receiver.requests.length;
    const duplicates = total - EVENTS * HANDLERS;
    console.log(
      `scale-out: ${total} calls received for ${EVENTS * HANDLERS} deliveries; ${duplicates} duplicates; ` +
        `the killed worker held ${held}; ${receivedAtKill} had arrived when it was killed`,
    );
    assert.ok(held > 0, 'the worker was killed while holding deliveries');
    assert.ok(duplicates >= 0 && duplicates <= held, `duplicates ${duplicates} exceed what the killed worker held (${held})`);
    assert.equal(Number((failed as { n: number }[])[0]!.n), 0, 'no delivery failed or was skipped');

    // Priority order within every event: every call to handler k arrived before any to k+1.
    const arrivals = new Map<number, { first: number[]; last: number[] }>();
    receiver.requests.forEach((request, index) => {
      const objectId = JSON.parse(request.body).event.object_id as number;
      const k = Number(request.path.slice(2)) - 1;
      const entry = arrivals.get(objectId) ?? { first: Array(HANDLERS).fill(Infinity), last: Array(HANDLERS).fill(-1) };
      entry.first[k] = Math.min(entry.first[k]!, index);
      entry.last[k] = Math.max(entry.last[k]!, index);
      arrivals.set(objectId, entry);
    });
    assert.equal(arrivals.size, EVENTS);
    for (const [objectId, entry] of arrivals) {
      for (let k = 0; k + 1 < HANDLERS; k++) {
        assert.ok(entry.last[k]! < entry.first[k + 1]!, `event about object ${objectId}: handler p${k + 2} was called before p${k + 1} finished`);
      }
    }
    // Every surviving worker took part.
    assert.ok(workers.every((worker) => worker === victim || worker.child.exitCode === null), diagnostics());
  });
});
