import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { IngestService } from '../../src/events/ingest.service.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * The worker (DispatcherService) on each database, with handlers that fail and retry while
 * the next handlers of the same event run: a retry comes due while the event's chain is still
 * going. Every delivery must end (none claimed and left unstarted), well before a lease could
 * run out and hand a forgotten one back.
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin']) };
const HANDLERS = 6;
const EVENTS = 24;
/** Far longer than the test waits: a delivery claimed and never started cannot come back through a take-over. */
const LEASE_MS = 120_000;
const BOUND_MS = 20_000;
/** Every first call fails: with the circuit breaker on, each handler's circuit would open after a run of them and hold its deliveries for the cool-down. */
const NO_BREAKER = '0';

forEachDatabaseModule('dispatcher: retries among a chain of handlers', { INSTANCE_ROLE: 'both', RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50', DISPATCH_LEASE_MS: String(LEASE_MS), CIRCUIT_FAILURE_THRESHOLD: NO_BREAKER }, (s) => {
  it(`${HANDLERS} handlers per event whose first attempts fail: every delivery is retried once and succeeds, none stays claimed`, { timeout: BOUND_MS + 30_000 }, async () => {
    // The first call of each delivery fails, its retry succeeds; answers take a moment, so the
    // retries of the first handlers come due while the later ones of the event are running.
    const called = new Map<string, number>();
    const receiver = await s.receiver((request) => {
      const id = String(request.headers['webhook-id']);
      called.set(id, (called.get(id) ?? 0) + 1);
      return { status: called.get(id) === 1 ? 500 : 200, body: '{}', delayMs: 20 };
    });
    const handlers = s.get(HandlersService);
    for (let priority = 1; priority <= HANDLERS; priority++) {
      await handlers.create(handlerBody({ name: `h${priority}`, event: 'clients.update', task: receiver.task(`/h${priority}`), priority, retry_limit: 1 }) as never, admin);
    }
    const ingest = s.get(IngestService);
    for (let object = 1; object <= EVENTS; object++) await ingest.accept(eventBody({ object_id: object }), undefined, null);

    const sql = (text: string) => s.get(DataSource).query(text) as Promise<Record<string, unknown>[]>;
    const started = Date.now();
    for (;;) {
      const open = await sql("SELECT id, event_id, seq, status, attempts, holds_order, lease_owner FROM deliveries WHERE status IN ('pending', 'in_progress') ORDER BY id");
      if (open.length === 0) break;
      if (Date.now() - started > BOUND_MS) assert.fail(`deliveries unfinished after ${BOUND_MS} ms (the lease is ${LEASE_MS} ms): ${JSON.stringify(open)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(await sql('SELECT id, status, attempts FROM deliveries'), [], 'every delivery left the queue: it succeeded');
    // Its log rows: a failed first attempt and a successful second, one pair per delivery.
    const attempts = await sql("SELECT delivery_id, MIN(CASE WHEN attempt = 1 THEN status END) AS first, MIN(CASE WHEN attempt = 2 THEN status END) AS second, COUNT(*) AS n FROM execution_logs GROUP BY delivery_id");
    assert.equal(attempts.length, HANDLERS * EVENTS);
    assert.deepEqual(
      attempts.filter((d) => d.first !== 'fail' || d.second !== 'success' || Number(d.n) !== 2),
      [],
      'every delivery failed once, was retried and succeeded',
    );
    assert.equal(called.size, HANDLERS * EVENTS);
    assert.ok([...called.values()].every((calls) => calls === 2), 'each delivery was called twice, no more');
  });
});
