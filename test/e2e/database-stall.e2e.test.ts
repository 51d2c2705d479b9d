import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachDatabase, type SuiteOptions } from '../utils/suite.js';
import { postHandler } from '../factories/handler.factory.js';
import { bearer } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { proxyInFront, TcpProxy } from '../utils/tcp-proxy.js';

/**
 * MariaDB/MySQL stalls: connections stay open, nothing answers (as when the server is frozen
 * with SIGSTOP, or packets are black-holed). A TCP proxy between the service and the server
 * stops forwarding for a few seconds, then forwards again. Meanwhile ingest answers 503
 * DATABASE_UNAVAILABLE within DATABASE_ACQUIRE_TIMEOUT_MS + DATABASE_QUERY_TIMEOUT_MS (plus
 * slack), /health/ready answers 503 within READINESS_TIMEOUT_MS (plus slack); afterwards the
 * service recovers by itself, and every event answered 202 is delivered.
 *
 * Producers behave as clients should: each event has its own idempotency key, and after a 503
 * the same request is sent again under the same key until it is answered 202. A write whose
 * answer was lost in the stall may have committed; its repeat is then answered as a replay.
 * SQLite is embedded in the process (nothing to stall): MySQL only.
 */
const QUERY_MS = 1500;
const ACQUIRE_MS = 1000;
const READINESS_MS = 500;
const STALL_MS = 6000;
/** Scheduling slack on a shared 2-core machine; the bounds are what is asserted, not speed. */
const SLACK_MS = 1500;
const INGEST_BOUND_MS = ACQUIRE_MS + QUERY_MS + SLACK_MS;
const READY_BOUND_MS = READINESS_MS + SLACK_MS;
const PRODUCERS = 3;

interface Answer {
  key: string;
  startedAt: number;
  tookMs: number;
  status: number;
  code?: string;
  retryAfter?: string;
  replayed?: boolean;
}

let proxy: TcpProxy;
let proxiedUrl: string;
const behindProxy: SuiteOptions = {
  only: 'mysql',
  prepare: async (db) => void ({ proxy, url: proxiedUrl } = await proxyInFront(db)),
  env: () => ({
    DATABASE_URL: proxiedUrl,
    DATABASE_QUERY_TIMEOUT_MS: String(QUERY_MS),
    DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_MS),
    READINESS_TIMEOUT_MS: String(READINESS_MS),
    RETRY_SCHEDULE: '200ms',
    DISPATCH_POLL_INTERVAL_MS: '100',
    // Longer than the stall, so a call that ends during it keeps its outcome; short enough
    // that claims whose answer was lost in the stall come back soon.
    DISPATCH_LEASE_MS: '15000',
  }),
};

forEachDatabase('database stall', behindProxy, (t) => {
  let receiver: TestReceiver;

  before(async () => {
    receiver = await t.receiver(() => ({ status: 200, delayMs: 10 }));
  });
  t.beforeClose(() => proxy?.resume());
  t.cleanup(() => proxy?.stop());

  it('answers 503 within its bounds while the database stalls, recovers by itself and delivers every accepted event', { timeout: 180_000 }, async () => {
    const producer = bearer(await t.key('events'));
    await postHandler(t, { name: 'stall', event: 'clients.update', type: 'http', task: receiver.task(), retry_limit: 10 });

    const answers: Answer[] = [];
    /** Keys answered 202, with the object each is about (one object per key). */
    const accepted = new Map<string, number>();
    let producing = true;
    let nextObject = 1;
    const produce = async (lane: number) => {
      while (producing) {
        const objectId = nextObject++;
        const key = `stall-${lane}-${objectId}`;
        const body = { event: 'clients.update', object_id: objectId, data: { id: objectId }, idempotency_key: key };
        // The same request under the same key until it is accepted (the test stops retrying only at the very end).
        for (let attempt = 0; ; attempt++) {
          const startedAt = Date.now();
          const response = await t.http.post('/api/v1/events').set(producer).send(body);
          answers.push({
            key,
            startedAt,
            tookMs: Date.now() - startedAt,
            status: response.status,
            code: response.body?.code,
            retryAfter: response.headers['retry-after'],
            replayed: response.body?.replayed,
          });
          if (response.status === 202) {
            accepted.set(key, objectId);
            break;
          }
          await sleep(100);
        }
        await sleep(20);
      }
    };
    const lanes = Array.from({ length: PRODUCERS }, (_unused, lane) => produce(lane));

    await sleep(3000);
    assert.equal((await t.http.get('/health/ready')).status, 200);
    const stalledAt = Date.now();
    proxy.stall();

    // Readiness during the stall: 503 within its own bound, every time.
    const probes: { tookMs: number; status: number; database?: string }[] = [];
    await sleep(500);
    while (Date.now() - stalledAt < STALL_MS - 1000) {
      const startedAt = Date.now();
      const ready = await t.http.get('/health/ready');
      probes.push({ tookMs: Date.now() - startedAt, status: ready.status, database: ready.body?.database });
      await sleep(300);
    }
    await sleep(Math.max(0, STALL_MS - (Date.now() - stalledAt)));
    const resumedAt = Date.now();
    proxy.resume();

    await eventually(async () => ((await t.http.get('/health/ready')).status === 200 ? true : undefined), 30_000);
    const readyAt = Date.now();
    // Ingest accepts new events again by itself.
    await eventually(async () => (answers.some((a) => a.status === 202 && a.startedAt > readyAt) ? true : undefined), 20_000);
    await sleep(2000);
    producing = false;
    await Promise.all(lanes);

    // --- during the stall ---------------------------------------------------------------
    assert.ok(probes.length >= 3, `readiness was probed during the stall (${probes.length})`);
    for (const probe of probes) {
      assert.equal(probe.status, 503, JSON.stringify(probe));
      assert.equal(probe.database, 'unreachable');
      assert.ok(probe.tookMs <= READY_BOUND_MS, `readiness answered in ${probe.tookMs} ms; bound ${READY_BOUND_MS} ms`);
    }
    const other = answers.filter((a) => a.status !== 202 && a.status !== 503);
    assert.deepEqual(other, [], 'every answer was 202 or 503');
    const refused = answers.filter((a) => a.status === 503);
    assert.ok(refused.length > 0, 'ingest answered 503 during the stall');
    for (const answer of refused) {
      assert.equal(answer.code, 'DATABASE_UNAVAILABLE');
      assert.equal(answer.retryAfter, '5');
      assert.ok(answer.startedAt + answer.tookMs >= stalledAt, 'no 503 before the stall');
      assert.ok(answer.startedAt <= resumedAt + INGEST_BOUND_MS, 'no 503 well after the stall');
    }
    // Every request, whatever its answer, waited no longer than the bound while the database stalled.
    const duringStall = answers.filter((a) => a.startedAt + a.tookMs >= stalledAt && a.startedAt <= resumedAt);
    const slowest = Math.max(...duringStall.map((a) => a.tookMs));
    assert.ok(slowest <= INGEST_BOUND_MS, `an ingest request waited ${slowest} ms during the stall; bound ${INGEST_BOUND_MS} ms`);
    assert.ok(
      answers.some((a) => a.status === 202 && a.startedAt < stalledAt),
      'events were accepted before the stall',
    );

    // --- nothing accepted is lost ---------------------------------------------------------
    const wanted = new Map([...accepted].map(([key, objectId]) => [objectId, key]));
    const received = () => {
      const counts = new Map<number, number>();
      for (const request of receiver.requests) {
        const objectId = JSON.parse(request.body).event.object_id as number;
        counts.set(objectId, (counts.get(objectId) ?? 0) + 1);
      }
      return counts;
    };
    await eventually(async () => {
      const counts = received();
      return [...wanted.keys()].every((objectId) => counts.has(objectId)) ? true : undefined;
    }, 90_000).catch(() => undefined);
    const counts = received();
    const delivered = [...wanted.keys()].filter((objectId) => counts.has(objectId)).length;
    const lost = wanted.size - delivered;
    const duplicated = [...counts.values()].reduce((sum, n) => sum + (n - 1), 0);
    const unexpected = [...counts.keys()].filter((objectId) => !wanted.has(objectId)).length;
    const replayedAfter503 = answers.filter((a) => a.status === 202 && a.replayed).length;
    console.log(
      `stall: ${accepted.size} events answered 202 (${replayedAfter503} of them as replays of a write whose answer was lost), ` +
        `${refused.length} answers 503 (slowest ingest answer during the stall ${slowest} ms, readiness ${Math.max(...probes.map((p) => p.tookMs))} ms); ` +
        `delivered ${delivered}, lost ${lost}, duplicated ${duplicated}, never answered 202 yet delivered ${unexpected}`,
    );
    assert.equal(lost, 0, 'every event answered 202 was delivered');
    assert.equal(unexpected, 0, 'every delivered event was one answered 202');
  });
});
