import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { forEachDatabase, type SuiteOptions } from '../utils/suite.js';
import { postHandler } from '../factories/handler.factory.js';
import { waitUntilSettled } from '../factories/event.factory.js';
import { bearer } from '../utils/test-app.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { proxyInFront, TcpProxy } from '../utils/tcp-proxy.js';

/**
 * MariaDB/MySQL becomes unreachable for about 10 s while events are being posted (a TCP proxy
 * between the service and the server is cut, then restored). Ingest answers 503
 * DATABASE_UNAVAILABLE meanwhile, readiness says not ready, the worker backs off and resumes
 * by itself, and every event accepted before, during or after was delivered.
 * SQLite is embedded in the process: it has no network to lose, so this runs on MySQL only.
 */
const OUTAGE_MS = 10_000;

interface Posted {
  at: number;
  status: number;
  code?: string;
  retryAfter?: string | null;
  id?: number;
  objectId: number;
}

let proxy: TcpProxy;
let proxiedUrl: string;
const behindProxy: SuiteOptions = {
  only: 'mysql',
  prepare: async (db) => void ({ proxy, url: proxiedUrl } = await proxyInFront(db)),
  env: () => ({ DATABASE_URL: proxiedUrl, RETRY_SCHEDULE: '200ms', DISPATCH_POLL_INTERVAL_MS: '100' }),
};

forEachDatabase('database outage', behindProxy, (t) => {
  let receiver: TestReceiver;

  before(async () => {
    receiver = await t.receiver(() => ({ status: 200, delayMs: 20 }));
  });
  t.beforeClose(() => proxy?.restore().catch(() => undefined));
  t.cleanup(() => proxy?.stop());

  it('answers 503 while the database is away, reports not ready, and delivers every accepted event once it is back', { timeout: 120_000 }, async () => {
    const producer = bearer(await t.key('events'));
    await postHandler(t, { name: 'outage', event: 'clients.update', type: 'http', task: receiver.task(), retry_limit: 10 });

    const posted: Posted[] = [];
    let producing = true;
    const producer$ = (async () => {
      for (let n = 1; producing; n++) {
        const response = await t.http.post('/api/v1/events').set(producer).send({ event: 'clients.update', object_id: n, data: { id: n } });
        posted.push({
          at: Date.now(),
          status: response.status,
          code: response.body?.code,
          retryAfter: response.headers['retry-after'] ?? null,
          id: response.status === 202 ? response.body.id : undefined,
          objectId: n,
        });
        await sleep(25);
      }
    })();

    await sleep(4000);
    const cutAt = Date.now();
    await proxy.cut();
    const notReady = await eventually(async () => {
      const ready = await t.http.get('/health/ready');
      return ready.status === 503 ? ready.body : undefined;
    }, 8000);
    assert.equal(notReady.database, 'unreachable');
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
    await proxy.restore();
    const restoredAt = Date.now();
    await eventually(async () => ((await t.http.get('/health/ready')).status === 200 ? true : undefined), 20_000);
    await sleep(4000);
    producing = false;
    await producer$;

    const accepted = posted.filter((p) => p.status === 202);
    const refused = posted.filter((p) => p.status === 503);
    const other = posted.filter((p) => p.status !== 202 && p.status !== 503);
    assert.deepEqual(other, [], 'every answer was 202 or 503');
    assert.ok(refused.length > 0, 'ingest answered 503 during the outage');
    for (const answer of refused) {
      assert.equal(answer.code, 'DATABASE_UNAVAILABLE');
      assert.equal(answer.retryAfter, '5');
      assert.ok(answer.at >= cutAt, 'no 503 before the cut');
    }
    assert.ok(accepted.some((p) => p.at < cutAt), 'events were accepted before the outage');
    assert.ok(accepted.some((p) => p.at > restoredAt), 'ingest accepted events again after the outage, by itself');

    // Every accepted event reaches the handler; the worker resumed without help.
    // Each post is about its own object, so the envelope's object_id names the event.
    const wanted = new Set(accepted.map((p) => p.objectId));
    await eventually(async () => {
      const seen = new Set(receiver.requests.map((request) => JSON.parse(request.body).event.object_id as number));
      return [...wanted].every((id) => seen.has(id)) ? true : undefined;
    }, 60_000);
    // …and every outcome is recorded: no delivery left pending or in flight.
    for (const p of accepted) {
      const event = await waitUntilSettled(t, p.id!, { timeoutMs: 30_000 });
      assert.equal(event.deliveries[0].status, 'succeeded', JSON.stringify(event.deliveries));
    }
    console.log(`outage: ${accepted.length} accepted, ${refused.length} answered 503, ${receiver.requests.length} calls received`);
  });
});
