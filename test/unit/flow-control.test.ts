import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cooldownMs, flowOutcomeStatements, type FlowOutcome } from '../../src/dispatcher/circuit-outcomes.js';
import { planClaim, rateTokens } from '../../src/dispatcher/flow-control.js';
import type { HandlerFlow } from '../../src/handlers/handler-flow.js';
import { planShares } from '../../src/queue/delivery-queue.js';
import { pausedAt, windowsAt } from '../../src/handlers/handler-view.js';
import type { HandlerPauseEntity } from '../../src/handlers/handler-pause.entity.js';
import { settleStep, type PauseRow } from '../../src/handlers/handler-pauses.service.js';

/** The pure parts of flow control per handler: shares, the rate limiter, cool-downs, the circuit's statements, the pause view and its boundaries. */
const NOW = 1_000_000;
const flow = (handlerId: number, over: Partial<HandlerFlow> = {}): HandlerFlow => ({
  handlerId,
  status: 'enabled',
  maxConcurrency: null,
  rateLimit: null,
  ratePeriod: null,
  rateTat: null,
  holdUntil: null,
  circuitState: 'closed',
  circuitRetryAt: null,
  paused: false,
  ...over,
});
const settings = { defaultCap: 4 };
const plan = (flows: HandlerFlow[], limit = 16, holdings = new Map<number, number>()) =>
  planClaim(flows.map((f, i) => ({ handlerId: f.handlerId, firstDueAt: NOW - 1000 + i })), new Map(flows.map((f) => [f.handlerId, f])), holdings, limit, NOW, NOW, settings);
const shares = (p: ReturnType<typeof plan>) => Object.fromEntries(p.shares.map((share) => [share.handlerId, share.limit]));

describe('planShares', () => {
  it('goes round the due handlers one at a time, the longest-waiting first, each up to its cap', () => {
    const pending = [
      { handlerId: 1, firstDueAt: 30 },
      { handlerId: 2, firstDueAt: 10 },
      { handlerId: 3, firstDueAt: 20 },
      { handlerId: 4, firstDueAt: 999 },
    ];
    assert.deepEqual(planShares(pending, 4, 100), [
      { handlerId: 2, limit: 2 },
      { handlerId: 3, limit: 1 },
      { handlerId: 1, limit: 1 },
    ]);
    assert.deepEqual(planShares(pending, 10, 100, new Map([[2, 1], [3, 0], [1, 2]])), [
      { handlerId: 2, limit: 1 },
      { handlerId: 1, limit: 2 },
    ]);
    assert.deepEqual(planShares([], 10, 100), []);
  });
});

describe('planClaim', () => {
  it('gives each handler twice its cap less what the worker holds, nothing to a paused one, and releases the held ones from the order', () => {
    const p = plan([flow(1), flow(2, { maxConcurrency: 2 }), flow(3, { paused: true }), flow(4)], 16, new Map([[4, 8], [1, 1]]));
    assert.deepEqual(shares(p), { 1: 7, 2: 4 });
    assert.deepEqual(p.released, [3]);
    assert.deepEqual([...p.held], [3]);
  });

  it('holds a handler during a Retry-After and while its circuit is open; one probe once the cool-down is over', () => {
    const p = plan([
      flow(1, { holdUntil: NOW + 1 }),
      flow(2, { circuitState: 'open', circuitRetryAt: NOW + 1 }),
      flow(3, { circuitState: 'open', circuitRetryAt: NOW }),
      flow(4, { circuitState: 'half_open', circuitRetryAt: NOW + 5000 }),
      flow(5, { holdUntil: NOW }),
    ]);
    assert.deepEqual(shares(p), { 3: 1, 5: 8 });
    assert.deepEqual([...p.probes], [3]);
    assert.deepEqual([...p.held].sort(), [1, 2, 3, 4]);
    assert.equal(p.shares[0]!.handlerId, 3, 'the probe goes first');
  });

  it('skips flow control for a disabled or deleted handler (their deliveries are skipped, not called), but a pause holds any', () => {
    const p = planClaim(
      [{ handlerId: 1, firstDueAt: 0 }, { handlerId: 2, firstDueAt: 0 }, { handlerId: 3, firstDueAt: 0 }],
      new Map([
        [1, flow(1, { status: 'disabled', circuitState: 'open', circuitRetryAt: NOW + 1, rateLimit: 1, rateTat: NOW + 60_000 })],
        [3, flow(3, { status: 'disabled', paused: true })],
      ]),
      new Map(),
      16,
      NOW,
      NOW,
      settings,
    );
    assert.deepEqual(shares(p), { 1: 8, 2: 8 });
    assert.deepEqual(p.released, [3]);
  });

  it('leaves out a handler whose last share found nothing claimable, unless its probe is due', () => {
    const flows = [flow(1), flow(2), flow(3, { circuitState: 'open', circuitRetryAt: NOW })];
    const p = planClaim(
      flows.map((f) => ({ handlerId: f.handlerId, firstDueAt: NOW - 10 })),
      new Map(flows.map((f) => [f.handlerId, f])),
      new Map(),
      16,
      NOW,
      NOW,
      { ...settings, resting: new Set([1, 3]) },
    );
    assert.deepEqual(shares(p), { 2: 8, 3: 1 });
  });

  it('gives a rate-limited handler the calls its limiter allows now', () => {
    const p = plan([flow(1, { rateLimit: 10, ratePeriod: 'second', maxConcurrency: 50 }), flow(2, { rateLimit: 10, rateTat: NOW + 150 })]);
    assert.deepEqual(shares(p), { 1: 2 }, '100 ms apart, 100 ms ahead: two now; the other is 150 ms ahead');
    assert.deepEqual(p.waits, [NOW + 50], 'the other may call again in 50 ms');
    assert.deepEqual(shares(plan([flow(1, { rateLimit: 600, ratePeriod: 'minute' })])), { 1: 2 });
  });
});

describe('rateTokens (GCRA)', () => {
  it('allows a call every interval, up to the tolerance ahead, and saves no idle time', () => {
    assert.deepEqual(rateTokens(null, 1000, 100, 250), { tokens: 3, start: 1000 });
    assert.deepEqual(rateTokens(1200, 1000, 100, 250), { tokens: 1, start: 1200 });
    assert.deepEqual(rateTokens(1251, 1000, 100, 250), { tokens: 0, start: 1251 });
    assert.deepEqual(rateTokens(0, 1_000_000, 100, 250), { tokens: 3, start: 1_000_000 });
  });

  it("keeps the rate over a run of claims no further apart than the tolerance (the worker wakes when the next call is allowed)", () => {
    for (const every of [7, 33, 50, 100]) {
      let tat: number | null = null;
      let calls = 0;
      for (let now = 0; now < 10_000; now += every) {
        const { tokens, start } = rateTokens(tat, now, 50, 100);
        if (tokens > 0) {
          calls += tokens;
          tat = start + tokens * 50;
        }
      }
      assert.ok(calls >= 195 && calls <= 203, `claims every ${every} ms: ${calls} calls in 10 s at 20 a second`);
    }
  });
});

describe('cooldownMs', () => {
  it('doubles with each opening in a row, up to the longest', () => {
    assert.deepEqual([1, 2, 3, 4, 10, 100].map((opens) => cooldownMs(opens, 30_000, 600_000)), [30_000, 60_000, 120_000, 240_000, 600_000, 600_000]);
  });
});

describe('flowOutcomeStatements', () => {
  const circuit = { failureThreshold: 3, cooldownMs: 30_000, cooldownMaxMs: 600_000 };
  const outcome = (handlerId: number, over: Partial<FlowOutcome> = {}): FlowOutcome => ({
    handlerId,
    ok: false,
    probe: false,
    failuresBefore: 0,
    opensBefore: 0,
    error: 'receiver answered 503',
    holdUntil: null,
    ...over,
  });
  const summary = (statements: ReturnType<typeof flowOutcomeStatements>) =>
    statements.map((statement) => [
      statement.handlerId,
      statement.change ?? (statement.sql.includes('circuit_failures + ?') ? 'count' : statement.sql.includes('SET circuit_failures = 0') ? 'reset' : statement.sql),
    ]);

  it('counts a run of failures once per handler, with a check that opens the circuit, in handler id order', () => {
    const statements = flowOutcomeStatements([outcome(7), outcome(2), outcome(7)], NOW, circuit);
    assert.deepEqual(summary(statements), [
      [2, 'count'],
      [2, 'circuit_opened'],
      [7, 'count'],
      [7, 'circuit_opened'],
    ]);
    assert.deepEqual(statements[2]!.params, [2, 7], 'two failures of handler 7 in one statement');
    assert.equal(statements[3]!.until, NOW + 30_000);
    assert.equal(statements[3]!.reason, '3 failed calls in a row; the last: receiver answered 503');
  });

  it('writes nothing for a success with nothing to reset; a success after failures ends the run, a successful probe closes the circuit', () => {
    assert.deepEqual(flowOutcomeStatements([outcome(1, { ok: true })], NOW, circuit), []);
    assert.deepEqual(summary(flowOutcomeStatements([outcome(1, { ok: true, failuresBefore: 2 })], NOW, circuit)), [[1, 'reset']]);
    assert.deepEqual(summary(flowOutcomeStatements([outcome(1), outcome(1, { ok: true })], NOW, circuit)).map(([, what]) => what), [
      'count',
      'circuit_opened',
      'reset',
    ]);
    assert.deepEqual(summary(flowOutcomeStatements([outcome(1, { ok: true, probe: true })], NOW, circuit)), [[1, 'circuit_closed']]);
  });

  it('closes the circuit only on the probe: a call in flight when it opened changes nothing', () => {
    // Such a call was claimed while the circuit was closed: its success tells of the target before the opening.
    const late = flowOutcomeStatements([outcome(1, { ok: true, failuresBefore: 1 })], NOW, circuit);
    assert.ok(!late.some((statement) => statement.change === 'circuit_closed'), 'no close without the probe');
    assert.deepEqual(summary(late), [[1, 'reset']], 'only the run in a row ends (the close resets it anyway)');
    const rated = { ...circuit, failureRate: 0.5, rateWindowMs: 60_000, rateMinCalls: 6 };
    const counted = flowOutcomeStatements([outcome(1, { ok: true }), outcome(1, { ok: true, probe: true }), outcome(1, { ok: true })], NOW, rated);
    assert.deepEqual(summary(counted).map(([, what]) => what), ['circuit_closed', counted[1]!.sql], 'the probe closes; the window counts from there');
    assert.deepEqual(counted[1]!.params.slice(1, 3), [1, 1], 'one call after the close');
  });

  it('re-opens after a failed probe for a longer cool-down; holds a handler that answered with a Retry-After', () => {
    const reopened = flowOutcomeStatements([outcome(1, { probe: true, opensBefore: 2 })], NOW, circuit);
    assert.deepEqual(summary(reopened).map(([, what]) => what), ['count', 'circuit_reopened']);
    assert.equal(reopened[1]!.until, NOW + 90_000 + 30_000);
    const held = flowOutcomeStatements([outcome(1, { holdUntil: NOW + 120_000 })], NOW, { ...circuit, failureThreshold: 0 });
    assert.deepEqual(summary(held), [[1, 'held']], 'with the breaker off only the hold');
    assert.equal(held[0]!.until, NOW + 120_000);
  });

  describe('the failure-rate rule', () => {
    const rated = { ...circuit, failureRate: 0.5, rateWindowMs: 60_000, rateMinCalls: 20 };
    const kinds = (statements: ReturnType<typeof flowOutcomeStatements>) =>
      statements.map((statement) =>
        statement.change ?? (statement.sql.includes('circuit_window_calls = CASE') ? 'window' : statement.sql.includes('circuit_failures + ?') ? 'count' : statement.sql.includes('SET circuit_failures = 0') ? 'reset' : statement.sql),
      );

    it('is off unless a rate is set: a success with nothing to reset still writes nothing', () => {
      assert.deepEqual(flowOutcomeStatements([outcome(1, { ok: true }), outcome(1, { ok: true })], NOW, { ...circuit, failureRate: 0, rateWindowMs: 60_000, rateMinCalls: 20 }), []);
      assert.ok(!flowOutcomeStatements([outcome(1), outcome(1, { ok: true })], NOW, circuit).some((statement) => statement.sql.includes('circuit_window')));
    });

    it("counts a batch's calls and failures in one statement per handler, and checks the rate only after a failure", () => {
      const alone = { ...rated, failureThreshold: 0 };
      const mixed = flowOutcomeStatements([outcome(4), outcome(4, { ok: true }), outcome(9, { ok: true }), outcome(4), outcome(4, { ok: true, failuresBefore: 1 })], NOW, alone);
      assert.deepEqual(mixed.map((statement) => [statement.handlerId, kinds([statement])[0]]), [
        [4, 'window'],
        [4, 'circuit_opened'],
        [9, 'window'],
      ]);
      const window = mixed[0]!;
      // (start stale, calls, calls, start stale, failures, failures, start stale, now, id): a fresh window starts now.
      assert.deepEqual(window.params, [NOW - 60_000, 4, 4, NOW - 60_000, 2, 2, NOW - 60_000, NOW, 4]);
      assert.match(window.sql, /circuit_window_failures = CASE[\s\S]*circuit_window_start = CASE/, 'the start is assigned last: MySQL/MariaDB sees the old start in every column');
      assert.match(window.sql, /WHERE id = \? AND circuit_state = 'closed'$/);
      const open = mixed[1]!;
      assert.deepEqual(open.params.slice(3), [4, 20, 5000], 'at least 20 calls, failures ≥ 5000/10000 of the calls');
      assert.match(open.sql, /circuit_state = 'closed' AND circuit_window_calls >= \? AND circuit_window_failures \* 10000 >= \? \* circuit_window_calls/);
      assert.equal(open.reason, 'at least 50% of 20+ calls failed within 60s; the last: receiver answered 503');
      assert.equal(open.until, NOW + 30_000);
      assert.deepEqual(kinds(flowOutcomeStatements([outcome(9, { ok: true })], NOW, rated)), ['window'], 'successes only: counted, no check');
      // With the rule in a row on too, each run still gets its count and its check (guarded by the count) first.
      assert.deepEqual(kinds(flowOutcomeStatements([outcome(4), outcome(4, { ok: true })], NOW, rated)), ['count', 'circuit_opened', 'reset', 'window', 'circuit_opened']);
    });

    it('works without the rule in a row: no failure count, and the probe still closes and re-opens the circuit', () => {
      const alone = { ...rated, failureThreshold: 0 };
      assert.deepEqual(kinds(flowOutcomeStatements([outcome(1), outcome(1), outcome(1, { ok: true, failuresBefore: 2 })], NOW, alone)), ['window', 'circuit_opened']);
      assert.deepEqual(kinds(flowOutcomeStatements([outcome(1, { probe: true })], NOW, alone)), ['circuit_reopened'], 'a failed probe is not a call of the window');
      assert.deepEqual(kinds(flowOutcomeStatements([outcome(1, { ok: true, probe: true })], NOW, alone)), ['circuit_closed']);
    });

    it('counts in the fresh window only what ended after the circuit closed (closing resets it)', () => {
      const statements = flowOutcomeStatements([outcome(1), outcome(1, { ok: true, probe: true }), outcome(1), outcome(1, { ok: true })], NOW, { ...rated, failureThreshold: 0 });
      assert.deepEqual(kinds(statements), ['circuit_closed', 'window', 'circuit_opened']);
      assert.match(statements[0]!.sql, /circuit_window_start = NULL, circuit_window_calls = 0, circuit_window_failures = 0/);
      assert.deepEqual(statements[1]!.params.slice(1, 3).concat(statements[1]!.params.slice(4, 6)), [2, 2, 1, 1], 'two calls after the close, one failed');
    });

    it('says the rule that opened the circuit: a run in a row opens first, and the rate check then finds it open', () => {
      const both = flowOutcomeStatements([outcome(2), outcome(2), outcome(2, { error: 'timed out' })], NOW, rated);
      assert.deepEqual(kinds(both), ['count', 'circuit_opened', 'window', 'circuit_opened']);
      assert.equal(both[1]!.reason, '3 failed calls in a row; the last: timed out');
      assert.equal(both[3]!.reason, 'at least 50% of 20+ calls failed within 60s; the last: timed out');
      assert.equal(flowOutcomeStatements([outcome(2)], NOW, { ...rated, failureRate: 0.125, rateWindowMs: 1500, rateMinCalls: 5 })[3]!.reason, 'at least 12.5% of 5+ calls failed within 1500ms; the last: receiver answered 503');
    });
  });
});

describe('the pause on the handler view', () => {
  const pause = (id: number, kind: 'manual' | 'window', startsAt: number, endsAt: number | null, reason: string | null = null): HandlerPauseEntity =>
    ({ id, handlerId: 1, kind, startsAt, endsAt, reason, createdAt: 0 }) as HandlerPauseEntity;

  it('shows the pause in force, manual first; null before and after', () => {
    const rows = [pause(1, 'window', NOW - 10, NOW + 100, 'upgrade'), pause(2, 'manual', NOW - 5, null, 'by hand')];
    assert.deepEqual(pausedAt(rows, NOW), { since: new Date(NOW - 10).toISOString(), until: null, reason: 'by hand', kind: 'manual' });
    assert.deepEqual(pausedAt([rows[0]!], NOW), { since: new Date(NOW - 10).toISOString(), until: new Date(NOW + 100).toISOString(), reason: 'upgrade', kind: 'window' });
    assert.equal(pausedAt([rows[0]!], NOW + 100), null);
    assert.equal(pausedAt([rows[0]!], NOW - 11), null);
  });

  it('lists the windows not over yet, earliest first', () => {
    const rows = [pause(3, 'window', NOW + 500, NOW + 600), pause(1, 'window', NOW - 10, NOW + 100), pause(2, 'window', NOW - 100, NOW), pause(4, 'manual', NOW, null)];
    assert.deepEqual(windowsAt(rows, NOW).map((w) => w.id), [1, 3]);
  });
});

describe('the boundary step of pauses (settleStep)', () => {
  const row = (id: number, kind: 'manual' | 'window', startsAt: number, endsAt: number | null, announced: 0 | 1, reason: string | null = null): PauseRow => ({
    id,
    handlerId: 1,
    kind,
    startsAt,
    endsAt,
    reason,
    announced,
  });
  const what = (step: ReturnType<typeof settleStep>) => ({
    writes: step.writes.map((statement) => [statement.sql.split(' ')[0], statement.params]),
    boundary: step.boundary,
  });

  it('tells a window that began once: announced by a guarded update, paused until its end; the second run finds nothing', () => {
    assert.deepEqual(what(settleStep([row(3, 'window', NOW + 1, NOW + 100, 0)], NOW)), { writes: [], boundary: null }, 'not yet');
    const begun = settleStep([row(3, 'window', NOW, NOW + 100, 0, 'upgrade')], NOW);
    assert.deepEqual(what(begun), {
      writes: [['UPDATE', [3]]],
      boundary: { type: 'provisioning.handler.paused', cause: 'window', reason: 'upgrade', until: NOW + 100 },
    });
    assert.match(begun.writes[0]!.sql, /WHERE id IN \(\?\) AND announced = 0$/);
    assert.deepEqual(what(settleStep([row(3, 'window', NOW, NOW + 100, 1, 'upgrade')], NOW + 50)), { writes: [], boundary: null }, 'told already');
    assert.equal(settleStep([row(3, 'window', NOW, NOW + 100, 0)], NOW)!.boundary!.reason, 'Maintenance window', 'a window without a reason');
  });

  it('tells the end of a window, and of a timed manual pause, once: deleted by a guarded delete, resumed', () => {
    const ended = settleStep([row(3, 'window', NOW - 100, NOW, 1, 'upgrade')], NOW);
    assert.deepEqual(what(ended), {
      writes: [['DELETE', [3, NOW]]],
      boundary: { type: 'provisioning.handler.resumed', cause: 'window', reason: 'The maintenance window ended: upgrade', until: null },
    });
    assert.match(ended.writes[0]!.sql, /WHERE id IN \(\?\) AND ends_at <= \?$/);
    assert.deepEqual(what(settleStep([row(4, 'manual', NOW - 100, NOW - 1, 1)], NOW)).boundary, {
      type: 'provisioning.handler.resumed',
      cause: 'expired',
      reason: 'The pause ran out',
      until: null,
    });
    assert.deepEqual(what(settleStep([], NOW)), { writes: [], boundary: null }, 'gone: nothing to tell again');
  });

  it('tells nothing while another pause told goes on: a window inside a manual pause, a window right after another', () => {
    assert.deepEqual(what(settleStep([row(1, 'manual', NOW - 100, null, 1), row(2, 'window', NOW - 5, NOW + 100, 0)], NOW)), { writes: [['UPDATE', [2]]], boundary: null });
    assert.deepEqual(what(settleStep([row(1, 'window', NOW - 100, NOW, 1), row(2, 'window', NOW, NOW + 100, 0)], NOW)), { writes: [['DELETE', [1, NOW]], ['UPDATE', [2]]], boundary: null });
    assert.deepEqual(what(settleStep([row(1, 'manual', NOW - 100, null, 1), row(2, 'window', NOW - 50, NOW - 1, 1)], NOW)), { writes: [['DELETE', [2, NOW]]], boundary: null }, 'the manual pause goes on');
  });

  it('tells one pause for windows that begin together, until the last end; nothing for a window that began and ended between two checks', () => {
    const two = settleStep([row(1, 'window', NOW - 10, NOW + 100, 0), row(2, 'window', NOW - 20, NOW + 300, 0, 'second')], NOW);
    assert.deepEqual(what(two), { writes: [['UPDATE', [1, 2]]], boundary: { type: 'provisioning.handler.paused', cause: 'window', reason: 'second', until: NOW + 300 } });
    assert.deepEqual(what(settleStep([row(1, 'window', NOW - 10, NOW - 5, 0)], NOW)), { writes: [['DELETE', [1, NOW]]], boundary: null });
  });
});
