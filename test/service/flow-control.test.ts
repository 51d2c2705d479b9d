import { before, beforeEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock.js';
import { DeliveryRunner } from '../../src/dispatcher/delivery-runner.js';
import { FlowControl, type ClaimRound } from '../../src/dispatcher/flow-control.js';
import { OutcomeWriter } from '../../src/dispatcher/outcome-writer.js';
import { IngestService } from '../../src/events/ingest.service.js';
import { HandlerPausesService } from '../../src/handlers/handler-pauses.service.js';
import { closeCircuit, countWindow, openCircuitByRate, type Statement } from '../../src/handlers/handler-flow.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';
import type { ClaimedDelivery } from '../../src/queue/delivery.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import type { TestReceiver } from '../utils/receiver.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';
import { TestClock } from '../utils/test-clock.js';
import { deliveryRows } from '../utils/delivery-rows.js';

/**
 * Flow control at the claim, on each database, without a worker of its own: the claims are
 * made here (FlowControl.claim, as the dispatcher makes them) and the outcomes recorded by the
 * runner and the outcome writer. The clock is the test's: windows and cool-downs pass by
 * putting it forward.
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin', 'internal']) };
const LEASE_MS = 30_000;
const clock = new TestClock();

forEachDatabaseModule(
  'flow control at the claim',
  { CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_COOLDOWN: '30s', DISPATCH_POLL_INTERVAL_MS: '250', HANDLER_MAX_CONCURRENCY: '4' },
  (s) => {
    let flow: FlowControl;
    let ingest: IngestService;
    let service: HandlersService;
    let pauses: HandlerPausesService;
    let receiver: TestReceiver;
    let failing = false;
    let objectId = 1000;

    before(async () => {
      flow = s.get(FlowControl);
      ingest = s.get(IngestService);
      service = s.get(HandlersService);
      pauses = s.get(HandlerPausesService);
      receiver = await s.receiver(() => (failing ? { status: 500 } : { status: 200 }));
    });

    const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
    /** Each test starts from an empty queue and no handler of earlier tests in the way. */
    const created: HandlerEntity[] = [];
    beforeEach(async () => {
      for (const old of created.splice(0)) await service.update(old.id, { status: 'archived' } as never, admin);
      await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0, lease_owner = NULL, lease_expires_at = NULL WHERE status IN ('pending', 'in_progress')");
      failing = false;
    });
    const handler = async (name: string, event: string, priority = 10, extra: Record<string, unknown> = {}): Promise<HandlerEntity> => {
      const made = await service.create(handlerBody({ name, event, task: receiver.task(`/${name}`), priority, ...extra }) as never, admin);
      created.push(made);
      return made;
    };
    const enqueue = async (event: string, id = ++objectId) => (await ingest.accept(eventBody({ event, object_id: id }), undefined, null)).id;
    const claim = (limit: number, held: Map<number, number> = new Map()): Promise<ClaimRound> => {
      const now = Date.now();
      return flow.claim('worker-a', limit, { held, waiting: [] }, now, now + LEASE_MS);
    };
    const ids = (claimed: ClaimedDelivery[]) => claimed.map((delivery) => delivery.id);
    const byHandler = (claimed: ClaimedDelivery[], h: HandlerEntity) => claimed.filter((delivery) => delivery.handlerId === h.id);
    const deliveriesOf = async (h: HandlerEntity) => (await deliveryRows(sql, { handlerId: h.id })).map(({ id, eventId, status, attempts }) => ({ id, eventId, status, attempts }));
    /** Calls the handler of each claimed delivery and records the outcome, as the worker does. */
    const run = async (claimed: ClaimedDelivery[]) => {
      for (const delivery of claimed) {
        const outcome = await s.get(DeliveryRunner).run(delivery, await service.get(delivery.handlerId));
        await s.get(OutcomeWriter).record('worker-a', delivery, outcome!);
      }
    };
    const release = (claimed: ClaimedDelivery[]) =>
      sql(`UPDATE deliveries SET status = 'pending', lease_owner = NULL WHERE id IN (${claimed.map(() => '?').join(', ') || 'NULL'})`, ids(claimed));

    it('a handler gets no more than twice its cap (its calls and as many waiting) less what the worker holds of it; the other handlers get the rest', async () => {
      const busy = await handler('busy', 'clients.create', 10, { max_concurrency: 3 });
      const quiet = await handler('quiet', 'clients.update');
      for (let i = 0; i < 10; i++) await enqueue('clients.create');
      for (let i = 0; i < 3; i++) await enqueue('clients.update');

      const first = await claim(16);
      assert.equal(byHandler(first.claimed, busy).length, 6, 'twice the cap of the busy handler');
      assert.equal(byHandler(first.claimed, quiet).length, 3, 'every due delivery of the quiet one');
      assert.equal(first.caps.get(busy.id), 3);
      assert.equal(first.caps.get(quiet.id), 4, 'HANDLER_MAX_CONCURRENCY when the handler sets none');
      await release(first.claimed);

      const held = await claim(16, new Map([[busy.id, 5]]));
      assert.equal(byHandler(held.claimed, busy).length, 1, 'the worker holds 5 of 6 already');
      await release(held.claimed);
      const full = await claim(16, new Map([[busy.id, 6]]));
      assert.deepEqual(byHandler(full.claimed, busy), [], 'the worker holds all it may');
      assert.equal(byHandler(full.claimed, quiet).length, 3);
    });

    it('shares a small claim among the handlers with due deliveries, the longest-waiting first, instead of giving it to one backlog', async () => {
      const a = await handler('share-a', 'clients.create', 10, { max_concurrency: 50 });
      const b = await handler('share-b', 'clients.update', 10, { max_concurrency: 50 });
      for (let i = 0; i < 20; i++) await enqueue('clients.create');
      await enqueue('clients.update');
      // Four go round: the backlog's earliest waited longest, so it gets the first and third, the other the second and fourth.
      const round = await claim(4);
      assert.equal(byHandler(round.claimed, b).length, 1, 'the handler with one delivery is not starved by the backlog');
      assert.equal(byHandler(round.claimed, a).length, 2);
      assert.equal(round.more, true, 'a share was filled: another round may find more');
      const next = await claim(4);
      assert.deepEqual(next.claimed.map((d) => d.handlerId), [a.id, a.id, a.id, a.id], 'the next round is the backlog\'s');
    });

    it('a claim does not read the backlog of a paused, capped or waiting handler: it costs the same with 100,000 of its deliveries waiting', async (t) => {
      const backlog = await handler('backlog', 'clients.create');
      const other = await handler('other', 'clients.update');
      const eventId = await enqueue('clients.create');
      // Time the claim of one delivery of the other handler, median of 7, then released for the next.
      const timeClaims = async (held: Map<number, number>) => {
        const times: number[] = [];
        for (let i = 0; i < 7; i++) {
          await enqueue('clients.update');
          const started = performance.now();
          const round = await claim(16, held);
          times.push(performance.now() - started);
          assert.deepEqual(round.claimed.map((delivery) => delivery.handlerId), [other.id]);
          await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0 WHERE handler_id = ?", [other.id]);
        }
        return times.sort((x, y) => x - y)[3]!;
      };
      await pauses.pause(backlog.id, {}, admin);
      const empty = await timeClaims(new Map());
      // 100,000 due first attempts of the paused handler, each on an object of its own, older than anything else.
      const digits = '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
      await sql(
        `INSERT INTO deliveries (event_id, handler_id, seq, object_key, status, holds_order, attempts, manual, next_attempt_at, created_at, updated_at)
         SELECT ?, ?, 0, n, 'pending', 1, 0, 0, 1, 1, 1 FROM
           (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e, ${digits} f) numbers`,
        [eventId, backlog.id],
      );
      const paused = await timeClaims(new Map());
      await pauses.resume(backlog.id, admin);
      const capped = await timeClaims(new Map([[backlog.id, 8]]));
      // All on one object, each waiting for the one before, the first in progress: a claim looks at a window of them only.
      await sql("UPDATE deliveries SET object_key = 'hot', seq = id WHERE handler_id = ? AND status = 'pending'", [backlog.id]);
      const [first] = await sql("SELECT MIN(id) AS id FROM deliveries WHERE handler_id = ? AND status = 'pending'", [backlog.id]);
      await sql("UPDATE deliveries SET status = 'in_progress', lease_owner = 'elsewhere', lease_expires_at = ? WHERE id = ?", [Date.now() + 600_000, first.id]);
      const waiting = await timeClaims(new Map());
      t.diagnostic(
        `median claim: ${empty.toFixed(2)} ms without a backlog; with 100,000 of another handler: ${paused.toFixed(2)} ms paused, ` +
          `${capped.toFixed(2)} ms at its cap, ${waiting.toFixed(2)} ms each waiting for the one before`,
      );
      // Loose bounds for a shared machine: a scan of 100,000 rows would cost tens of milliseconds each time.
      assert.ok(paused < empty * 4 + 15, `paused backlog: ${paused.toFixed(1)} ms per claim against ${empty.toFixed(1)} ms without`);
      assert.ok(capped < empty * 4 + 15, `capped backlog: ${capped.toFixed(1)} ms per claim against ${empty.toFixed(1)} ms without`);
      assert.ok(waiting < empty * 4 + 15, `waiting backlog: ${waiting.toFixed(1)} ms per claim against ${empty.toFixed(1)} ms without`);
      await sql("UPDATE deliveries SET status = 'succeeded', holds_order = 0, lease_owner = NULL WHERE handler_id = ?", [backlog.id]);
    });

    it('pause holds every delivery of the handler and frees the others of its objects; resume lets them go in their order', async () => {
      const first = await handler('first', 'clients.update', 1);
      const second = await handler('second', 'clients.update', 2);
      const object = ++objectId;
      const events = [await enqueue('clients.update', object), await enqueue('clients.update', object), await enqueue('clients.update', object)];
      const view = await pauses.pause(first.id, { reason: 'maintenance' }, admin);
      assert.equal(view.paused?.reason, 'maintenance');
      assert.equal(view.paused?.until, null);
      assert.equal(view.status, 'enabled', 'paused is not disabled');

      // The second handler goes ahead on the object, one event after the other; the first holds its own.
      for (const eventId of events) {
        const round = await claim(16);
        assert.deepEqual(round.claimed.map((d) => [d.handlerId, d.eventId]), [[second.id, eventId]]);
        assert.ok(round.held.has(first.id));
        await run(round.claimed);
      }
      assert.deepEqual((await claim(16)).claimed, [], 'nothing of the paused handler');
      assert.deepEqual((await deliveriesOf(first)).map((d) => [d.status, d.attempts]), events.map(() => ['pending', 0]), 'held, not skipped');

      await pauses.resume(first.id, admin);
      for (const eventId of events) {
        const round = await claim(16);
        assert.deepEqual(round.claimed.map((d) => [d.handlerId, d.eventId]), [[first.id, eventId]], 'in event order, one at a time');
        await run(round.claimed);
      }
      assert.deepEqual((await deliveriesOf(first)).map((d) => d.status), ['succeeded', 'succeeded', 'succeeded']);
    });

    it('a maintenance window holds the deliveries while the clock is inside it, and they go out in order after it', async () => {
      const windowed = await handler('windowed', 'clients.update');
      const from = clock.now() + 3_600_000;
      const window = await pauses.addWindow(windowed.id, { from: new Date(from).toISOString(), to: new Date(from + 3_600_000).toISOString(), reason: 'upgrade' }, admin);
      assert.equal((await pauses.view(windowed)).paused, null, 'not yet');
      assert.deepEqual((await pauses.view(windowed)).maintenance_windows.map((w) => w.id), [window.id]);

      clock.advance(90 * 60_000);
      try {
        const object = ++objectId;
        const events = [await enqueue('clients.update', object), await enqueue('clients.update', object)];
        const inside = await pauses.view(windowed);
        assert.equal(inside.paused?.kind, 'window');
        assert.equal(inside.paused?.reason, 'upgrade');
        assert.deepEqual((await claim(16)).claimed, [], 'held inside the window');

        clock.advance(60 * 60_000);
        assert.equal((await pauses.view(windowed)).paused, null, 'over');
        for (const eventId of events) {
          const round = await claim(16);
          assert.deepEqual(round.claimed.map((d) => d.eventId), [eventId]);
          await run(round.claimed);
        }
      } finally {
        clock.advance(-150 * 60_000);
      }
    });

    it('a rate limit gives a claim only the tokens the limiter holds, shared through the handler row', async () => {
      const limited = await handler('limited', 'clients.create', 10, { rate_limit: 5, rate_period: 'second', max_concurrency: 50 });
      for (let i = 0; i < 20; i++) await enqueue('clients.create');
      // 5 a second: one every 200 ms; a claim may run a poll interval (250 ms) ahead: 2 now.
      const first = await claim(16);
      assert.equal(first.claimed.length, 2);
      assert.deepEqual((await claim(16)).claimed, [], 'no tokens left at this time');
      // Claims every poll interval over the next second take five more: the rate, however the claims fall.
      let taken = 0;
      for (let step = 0; step < 4; step++) {
        clock.advance(250);
        taken += (await claim(16)).claimed.length;
      }
      clock.advance(-1000);
      assert.ok(taken >= 4 && taken <= 6, `${taken} in the next second`);
      // Idle time is not saved up: after a long pause, a claim still takes no more than the tolerance allows.
      clock.advance(60_000);
      try {
        assert.equal((await claim(16)).claimed.length, 2);
      } finally {
        clock.advance(-60_000);
      }
      const [row] = await sql('SELECT rate_tat FROM handlers WHERE id = ?', [limited.id]);
      assert.ok(Number(row.rate_tat) > clock.now(), 'the limiter ran ahead of the time');
    });

    it('a Retry-After answer holds the handler until then', async () => {
      const busy = await handler('busy-target', 'clients.create');
      receiver.responder = () => (failing ? { status: 429, headers: { 'retry-after': '120' } } : { status: 200 });
      try {
        await enqueue('clients.create');
        await enqueue('clients.create');
        failing = true;
        const round = await claim(1);
        await run(round.claimed);
        const [row] = await sql('SELECT hold_until FROM handlers WHERE id = ?', [busy.id]);
        assert.ok(Number(row.hold_until) >= clock.now() + 110_000, 'held for the Retry-After');
        const held = await claim(16);
        assert.deepEqual(held.claimed, [], 'the other delivery waits too');
        assert.ok(held.held.has(busy.id));
        clock.advance(121_000);
        try {
          assert.deepEqual(byHandler((await claim(16)).claimed, busy).length, 1, 'after it, the waiting one goes');
        } finally {
          clock.advance(-121_000);
        }
      } finally {
        receiver.responder = () => (failing ? { status: 500 } : { status: 200 });
      }
    });

    it('the circuit opens after a run of failures, holds the deliveries without counting attempts, sends one probe after the cool-down, and closes on its success', async () => {
      const fragile = await handler('fragile', 'clients.create', 10, { max_concurrency: 50 });
      for (let i = 0; i < 6; i++) await enqueue('clients.create');
      failing = true;
      const failed = await claim(3);
      assert.equal(failed.claimed.length, 3);
      await run(failed.claimed);
      let row = (await sql('SELECT circuit_state, circuit_reason, circuit_failures FROM handlers WHERE id = ?', [fragile.id]))[0];
      assert.equal(row.circuit_state, 'open');
      assert.match(String(row.circuit_reason), /3 failed calls in a row; the last: receiver answered 500/);
      const view = await pauses.view(await service.get(fragile.id));
      assert.equal(view.circuit.state, 'open');
      assert.ok(view.circuit.retry_at !== null && view.circuit.since !== null);

      const open = await claim(16);
      assert.deepEqual(open.claimed, [], 'nothing is claimed while open');
      assert.ok(open.held.has(fragile.id));
      const waiting = (await deliveriesOf(fragile)).filter((d) => !ids(failed.claimed).includes(d.id));
      assert.deepEqual(waiting.map((d) => [d.status, d.attempts]), [['pending', 0], ['pending', 0], ['pending', 0]], 'no attempt counted while open');

      clock.advance(31_000);
      try {
        const probe = await claim(16);
        assert.equal(probe.claimed.length, 1, 'exactly one probe');
        assert.equal(probe.claimed[0]!.probe, true);
        assert.equal((await sql('SELECT circuit_state FROM handlers WHERE id = ?', [fragile.id]))[0].circuit_state, 'half_open');
        assert.deepEqual((await claim(16)).claimed, [], 'no second probe while the first is out');

        failing = false;
        await run(probe.claimed);
        row = (await sql('SELECT circuit_state, circuit_failures, circuit_reason FROM handlers WHERE id = ?', [fragile.id]))[0];
        assert.deepEqual([row.circuit_state, Number(row.circuit_failures), row.circuit_reason], ['closed', 0, 'the probe call succeeded']);
        const after = await claim(16);
        assert.ok(byHandler(after.claimed, fragile).length >= 2, 'the deliveries that waited are claimed again');
        await run(after.claimed);
      } finally {
        clock.advance(-31_000);
      }
      const states = await deliveriesOf(fragile);
      const waited = states.filter((d) => waiting.some((w) => w.id === d.id));
      assert.deepEqual(waited.map((d) => [d.status, d.attempts]), waited.map(() => ['succeeded', 1]), 'one attempt each: none spent while open');
    });

    it("the failure-rate rule's statements count in a tumbling window, open by the rate, and start afresh on closing, alike on both databases", async () => {
      const rated = await handler('rated', 'clients.create');
      const T = 1_900_000_000_000;
      const run = async (statement: Statement) => void (await sql(statement.sql, statement.params));
      const window = async () => {
        const [row] = await sql('SELECT circuit_state, circuit_window_start, circuit_window_calls, circuit_window_failures FROM handlers WHERE id = ?', [rated.id]);
        return [row.circuit_state, row.circuit_window_start === null ? null : Number(row.circuit_window_start), Number(row.circuit_window_calls), Number(row.circuit_window_failures)];
      };
      assert.deepEqual(await window(), ['closed', null, 0, 0]);
      await run(countWindow(rated.id, 3, 2, T, 60_000));
      assert.deepEqual(await window(), ['closed', T, 3, 2], 'the first calls start a window');
      await run(countWindow(rated.id, 2, 1, T + 59_999, 60_000));
      assert.deepEqual(await window(), ['closed', T, 5, 3], 'added within the window');
      // The start is tested before it is moved, for every column: MySQL/MariaDB assigns left to right.
      await run(countWindow(rated.id, 1, 1, T + 60_000, 60_000));
      assert.deepEqual(await window(), ['closed', T + 60_000, 1, 1], 'a window as old as its length gives way to a new one');

      await run(openCircuitByRate(rated.id, 2, 5000, T + 60_000, T + 90_000, 'rate'));
      assert.equal((await window())[0], 'closed', 'one call is fewer than the fewest judged');
      await run(countWindow(rated.id, 2, 0, T + 61_000, 60_000));
      await run(openCircuitByRate(rated.id, 2, 5000, T + 61_000, T + 91_000, 'rate'));
      assert.equal((await window())[0], 'closed', 'one failure in three is under half');
      await run(countWindow(rated.id, 1, 1, T + 62_000, 60_000));
      await run(openCircuitByRate(rated.id, 2, 5000, T + 62_000, T + 92_000, 'rate'));
      assert.deepEqual(await window(), ['open', T + 60_000, 4, 2], 'two of four: half, which is the rate');
      await run(countWindow(rated.id, 5, 5, T + 63_000, 60_000));
      assert.deepEqual((await window()).slice(2), [4, 2], 'nothing counted while open');
      await run(closeCircuit(rated.id, T + 100_000, 'the probe call succeeded'));
      assert.deepEqual(await window(), ['closed', null, 0, 0], 'closing starts afresh');
    });

    it('a failed probe opens the circuit again for a longer cool-down', async () => {
      const broken = await handler('broken', 'clients.create', 10, { max_concurrency: 50 });
      for (let i = 0; i < 5; i++) await enqueue('clients.create');
      failing = true;
      await run((await claim(3)).claimed);
      const [opened] = await sql('SELECT circuit_state, circuit_retry_at, circuit_since FROM handlers WHERE id = ?', [broken.id]);
      assert.equal(opened.circuit_state, 'open');
      assert.ok(Math.abs(Number(opened.circuit_retry_at) - Number(opened.circuit_since) - 30_000) < 5, 'the first cool-down');
      clock.advance(31_000);
      try {
        const probe = await claim(16);
        assert.equal(probe.claimed.length, 1);
        await run(probe.claimed);
        const [again] = await sql('SELECT circuit_state, circuit_retry_at, circuit_since, circuit_reason, circuit_opens FROM handlers WHERE id = ?', [broken.id]);
        assert.equal(again.circuit_state, 'open');
        assert.equal(Number(again.circuit_opens), 2);
        assert.ok(Math.abs(Number(again.circuit_retry_at) - Number(again.circuit_since) - 60_000) < 5, 'twice as long');
        assert.match(String(again.circuit_reason), /^the probe call failed: receiver answered 500/);
        assert.deepEqual((await claim(16)).claimed, []);
      } finally {
        clock.advance(-31_000);
      }
    });
  },
  [{ provide: Clock, useValue: clock }],
);
