import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase, Suite } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { postHandler } from '../factories/handler.factory.js';
import { bearer, countDeliveries, countRows } from '../utils/test-app.js';
import { Received, Responder, TestReceiver } from '../utils/receiver.js';


type Headers = Record<string, string>;
interface Call {
  handler_id: number;
  handler_name: string;
  outcome: 'allowed' | 'modified' | 'forbidden' | 'failed';
  counted_as: 'allow' | 'forbid' | null;
  response_code: number | null;
  error: string | null;
  duration_ms: number;
  log_id: number;
}
interface Decision {
  allowed: boolean;
  data: Record<string, unknown>;
  reason: string | null;
  decided_by: { id: number; name: string } | null;
  calls: Call[];
  duration_ms: number;
}
interface Handler {
  id: number;
  name: string;
  on_failure: string | null;
  stage: string;
}

const envelopeOf = (request: Received) =>
  JSON.parse(request.body) as { event: { dt: string; events_id: string; object_id: number }; data: Record<string, unknown> };
const json = (status: number, body: unknown) => ({ status, body: JSON.stringify(body) });
/** 200 with an empty body: allows without changing anything. */
const allow: Responder = () => ({ status: 200, body: '' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Shared by the suites: one app, its keys and the receivers it created. */
function harness(getApp: () => Suite) {
  let counter = 0;
  return {
    receiver(responder: Responder = allow) {
      return getApp().receiver(responder);
    },
    /** Creates an http handler for `r` (stage before unless said otherwise) through the API. */
    async handler(r: TestReceiver, body: Record<string, unknown>): Promise<Handler> {
      const name = `gate ${++counter}`;
      return (await postHandler(getApp(), { name, type: 'http', task: r.task(`/g${counter}`), stage: 'before', ...body })) as unknown as Handler;
    },
    async decide(body: Record<string, unknown>, headers: Headers): Promise<{ decision: Decision; elapsed: number }> {
      const started = Date.now();
      const response = await getApp().http.post('/api/v1/events/decide').set(headers).send(body);
      const elapsed = Date.now() - started;
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return { decision: response.body as Decision, elapsed };
    },
  };
}

forEachDatabase('decisions: before handlers asked synchronously', { env: { RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let admin: Headers;
  let events: Headers;
  let objectId = 7000;
  const h = harness(() => t);

  before(async () => {
    admin = bearer(t.adminKey);
    events = await keyHeaders(t, 'events');
  });

  const nextObject = () => ++objectId;
  const logsOf = async (handlerId: number) => {
    const response = await t.http.get(`/api/v1/execution-logs?handler_id=${handlerId}`).set(admin);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.items as { id: number; status: string; stage: string; attempt: number; trigger: string; event: string; event_id: number | null; object_id: number; response_code: number | null; error: string | null }[];
  };
  const counts = async () => {
    return { events: await countRows(t, 'events'), deliveries: await countDeliveries(t) };
  };

  it('runs the before handlers by priority; each sees the data as changed by the earlier ones; answers the final data', async () => {
    const last = await h.receiver(allow);
    const first = await h.receiver((request) => {
      const { data } = envelopeOf(request);
      return json(200, { data: { ...data, name: 'Changed name' } });
    });
    const second = await h.receiver((request) => {
      const { data } = envelopeOf(request);
      return json(201, { data: { ...data, tags: ['checked'] } });
    });
    // Created out of priority order, so the run order cannot come from the ids.
    const h3 = await h.handler(last, { event: 'clients.create', priority: 3 });
    const h1 = await h.handler(first, { event: 'clients.create', priority: 1 });
    const h2 = await h.handler(second, { event: 'clients.create', priority: 2 });

    const id = nextObject();
    const input = { id, name: 'Original', balance: '10.00' };
    const { decision } = await h.decide({ event: 'clients.create', object_id: id, dt: '2026-11-22T10:15:30+00:00', data: input }, events);
    assert.equal(decision.allowed, true);
    assert.equal(decision.reason, null);
    assert.equal(decision.decided_by, null);
    assert.deepEqual(decision.data, { id, name: 'Changed name', balance: '10.00', tags: ['checked'] });
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as, c.response_code]), [
      [h1.id, 'modified', null, 200],
      [h2.id, 'modified', null, 201],
      [h3.id, 'allowed', null, 200],
    ]);
    assert.deepEqual(decision.calls.map((c) => c.handler_name), [h1.name, h2.name, h3.name]);

    assert.equal(first.requests.length, 1);
    assert.equal(second.requests.length, 1);
    assert.equal(last.requests.length, 1);
    assert.deepEqual(envelopeOf(first.requests[0]!), {
      event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.create', object_id: id },
      data: input,
    });
    assert.deepEqual(envelopeOf(second.requests[0]!).data, { id, name: 'Changed name', balance: '10.00' });
    assert.deepEqual(envelopeOf(last.requests[0]!).data, decision.data);
    assert.ok(first.requests[0]!.at <= second.requests[0]!.at && second.requests[0]!.at <= last.requests[0]!.at);

    // Each call is one execution log row of stage before, with the payload as that handler got it.
    for (const [index, handler] of [h1, h2, h3].entries()) {
      const logs = await logsOf(handler.id);
      assert.equal(logs.length, 1, `handler ${index + 1} has one log row`);
      const log = logs[0]!;
      assert.equal(log.id, decision.calls[index]!.log_id);
      assert.equal(log.stage, 'before');
      assert.equal(log.status, 'success');
      assert.equal(log.attempt, 1);
      assert.equal(log.event, 'clients.create');
      assert.equal(log.object_id, id);
      assert.equal(log.event_id, null);
    }
    const detail = await t.http.get(`/api/v1/execution-logs/${decision.calls[1]!.log_id}`).set(admin);
    assert.equal(detail.status, 200);
    assert.deepEqual(JSON.parse(detail.body.request_payload).data, { id, name: 'Changed name', balance: '10.00' });
  });

  it('a handler forbidding stops the chain: allowed false, its reason, decided_by it, later handlers never called', async () => {
    const modifier = await h.receiver((request) => json(200, { data: { ...envelopeOf(request).data, name: 'Renamed trunk' } }));
    const forbidder = await h.receiver(() => json(200, { allow: false, reason: 'credit limit' }));
    const never = await h.receiver(allow);
    const h1 = await h.handler(modifier, { event: 'clients.accounts.create', priority: 1 });
    const h2 = await h.handler(forbidder, { event: 'clients.accounts.create', priority: 2 });
    const h3 = await h.handler(never, { event: 'clients.accounts.create', priority: 3, on_failure: 'allow' });

    const id = nextObject();
    const { decision } = await h.decide({ event: 'clients.accounts.create', object_id: id, data: { id, clients_id: 12, name: 'SIP trunk' } }, events);
    assert.equal(decision.allowed, false);
    assert.equal(decision.reason, 'credit limit');
    assert.deepEqual(decision.decided_by, { id: h2.id, name: h2.name });
    assert.deepEqual(decision.data, { id, clients_id: 12, name: 'Renamed trunk' });
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as]), [
      [h1.id, 'modified', null],
      [h2.id, 'forbidden', null],
    ]);
    assert.equal(envelopeOf(forbidder.requests[0]!).data.name, 'Renamed trunk', 'handler 2 saw the data handler 1 changed');
    await sleep(300);
    assert.equal(never.requests.length, 0, 'handler 3 was called after a forbid');
    assert.equal((await logsOf(h3.id)).length, 0);
    const [log] = await logsOf(h2.id);
    assert.equal(log!.stage, 'before');
    assert.equal(log!.status, 'success');
  });

  it("a hanging handler with on_failure 'allow' times out at its timeout_ms and the chain goes on", async () => {
    const hanging = await h.receiver(() => ({ hang: true }));
    const next = await h.receiver(allow);
    const h1 = await h.handler(hanging, { event: 'clients.subscriptions.assign', priority: 1, timeout_ms: 300, on_failure: 'allow' });
    const h2 = await h.handler(next, { event: 'clients.subscriptions.assign', priority: 2 });
    assert.equal(h1.on_failure, 'allow');

    const id = nextObject();
    const data = { id, clients_id: 12, status: 'pending' };
    const { decision, elapsed } = await h.decide({ event: 'clients.subscriptions.assign', object_id: id, data }, events);
    assert.equal(decision.allowed, true);
    assert.equal(decision.decided_by, null);
    assert.deepEqual(decision.data, data);
    assert.equal(decision.calls.length, 2);
    const [cut, ok] = decision.calls;
    assert.equal(cut!.handler_id, h1.id);
    assert.equal(cut!.outcome, 'failed');
    assert.equal(cut!.counted_as, 'allow');
    assert.equal(cut!.response_code, null);
    assert.match(cut!.error ?? '', /timeout after 300 ms/);
    assert.ok(cut!.duration_ms >= 290 && cut!.duration_ms < 2000, `the hanging call took ${cut!.duration_ms} ms`);
    assert.equal(ok!.handler_id, h2.id);
    assert.equal(ok!.outcome, 'allowed');
    assert.equal(next.requests.length, 1);
    assert.deepEqual(envelopeOf(next.requests[0]!).data, data);
    assert.ok(elapsed >= 290 && elapsed < 3000, `decide took ${elapsed} ms`);
    const [log] = await logsOf(h1.id);
    assert.equal(log!.status, 'fail');
    assert.equal(log!.stage, 'before');
    assert.match(log!.error ?? '', /timeout/);
  });

  it("a hanging handler with on_failure 'forbid' forbids: allowed false, decided_by it, the next one is not called", async () => {
    const hanging = await h.receiver(() => ({ hang: true }));
    const next = await h.receiver(allow);
    const h1 = await h.handler(hanging, { event: 'clients.subscriptions.activate', priority: 1, timeout_ms: 300, on_failure: 'forbid' });
    await h.handler(next, { event: 'clients.subscriptions.activate', priority: 2 });

    const id = nextObject();
    const { decision, elapsed } = await h.decide({ event: 'clients.subscriptions.activate', object_id: id, data: { id, status: 'active' } }, events);
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.decided_by, { id: h1.id, name: h1.name });
    assert.match(decision.reason ?? '', /timeout/);
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as]), [[h1.id, 'failed', 'forbid']]);
    assert.ok(elapsed >= 290 && elapsed < 3000, `decide took ${elapsed} ms`);
    await sleep(200);
    assert.equal(next.requests.length, 0);
  });

  it('a 500 answer is a failure counted per on_failure (default forbid); nothing is queued or retried', async () => {
    const broken1 = await h.receiver(() => json(500, { error: 'down' }));
    const broken2 = await h.receiver(() => json(500, { error: 'down' }));
    const never = await h.receiver(allow);
    const h1 = await h.handler(broken1, { event: 'dids.create', priority: 1, on_failure: 'allow', retry_limit: 5 });
    const h2 = await h.handler(broken2, { event: 'dids.create', priority: 2, retry_limit: 5 });
    await h.handler(never, { event: 'dids.create', priority: 3, on_failure: 'allow' });
    assert.equal(h2.on_failure, 'forbid', 'a before handler defaults to forbid');

    const before = await counts();
    const id = nextObject();
    const { decision } = await h.decide({ event: 'dids.create', object_id: id, data: { id, did: '442000000002', status: 'in_stock' } }, events);
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.decided_by, { id: h2.id, name: h2.name });
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as, c.response_code]), [
      [h1.id, 'failed', 'allow', 500],
      [h2.id, 'failed', 'forbid', 500],
    ]);
    for (const call of decision.calls) assert.ok(call.error, 'a failed call has an error');

    // No event, no delivery, and no retry: the receivers hear nothing more.
    assert.deepEqual(await counts(), before);
    await sleep(1000);
    assert.equal(broken1.requests.length, 1);
    assert.equal(broken2.requests.length, 1);
    assert.equal(never.requests.length, 0);
    assert.deepEqual(await counts(), before);
    for (const handler of [h1, h2]) {
      const logs = await logsOf(handler.id);
      assert.deepEqual(logs.map((l) => [l.stage, l.status, l.attempt, l.response_code]), [['before', 'fail', 1, 500]]);
    }
  });

  it('an answer with data of the wrong shape (or not an object) is a failure; the data stays as it was', async () => {
    const wrongShape = await h.receiver(() => json(200, { data: { balance: 'lots' } }));
    const notObject = await h.receiver(() => json(200, { data: ['x'] }));
    const otherId = await h.receiver(() => json(200, { data: { id: 999999, name: 'Someone else' } }));
    const witness = await h.receiver(allow);
    const h1 = await h.handler(wrongShape, { event: 'clients.update', priority: 1, on_failure: 'allow' });
    const h2 = await h.handler(notObject, { event: 'clients.update', priority: 2, on_failure: 'allow' });
    const h2b = await h.handler(otherId, { event: 'clients.update', priority: 2, on_failure: 'allow' });
    const h3 = await h.handler(witness, { event: 'clients.update', priority: 3 });

    const id = nextObject();
    const input = { id, name: 'Acme', balance: '5.00' };
    const { decision } = await h.decide({ event: 'clients.update', object_id: id, data: input }, events);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.data, input);
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as, c.response_code]), [
      [h1.id, 'failed', 'allow', 200],
      [h2.id, 'failed', 'allow', 200],
      [h2b.id, 'failed', 'allow', 200],
      [h3.id, 'allowed', null, 200],
    ]);
    assert.match(decision.calls[0]!.error ?? '', /balance/);
    assert.match(decision.calls[1]!.error ?? '', /data/);
    assert.match(decision.calls[2]!.error ?? '', /data\.id must equal object_id/);
    assert.deepEqual(envelopeOf(witness.requests[0]!).data, input, 'the next handler got the data unchanged');
    const [log] = await logsOf(h1.id);
    assert.equal(log!.status, 'fail');
    assert.match(log!.error ?? '', /balance/);
  });

  it('without enabled before handlers: allowed, data unchanged, no calls (disabled and after handlers are not asked)', async () => {
    const disabled = await h.receiver(() => json(200, { allow: false, reason: 'disabled gate' }));
    const afterStage = await h.receiver(() => json(200, { allow: false, reason: 'after handler' }));
    const gate = await h.handler(disabled, { event: 'dids.update' });
    const toggled = await t.http.post(`/api/v1/handlers/${gate.id}/toggle`).set(admin);
    assert.equal(toggled.body.status, 'disabled');
    await h.handler(afterStage, { event: 'dids.update', stage: 'after' });

    const before = await counts();
    const id = nextObject();
    const data = { id, did: '442000000003', notes: 'ported' };
    const { decision } = await h.decide({ event: 'dids.update', object_id: id, data }, events);
    assert.deepEqual(decision.allowed, true);
    assert.deepEqual(decision.data, data);
    assert.equal(decision.reason, null);
    assert.equal(decision.decided_by, null);
    assert.deepEqual(decision.calls, []);
    await sleep(300);
    assert.equal(disabled.requests.length, 0);
    assert.equal(afterStage.requests.length, 0);
    assert.deepEqual(await counts(), before);
  });

  it('posting an event plans only the after handlers: before handlers never get it', async () => {
    const gateReceiver = await h.receiver(allow);
    const notifyReceiver = await h.receiver(() => ({ status: 200 }));
    const gate = await h.handler(gateReceiver, { event: 'dids.activate', priority: 1 });
    const notify = await h.handler(notifyReceiver, { event: 'dids.activate', stage: 'after', priority: 2 });
    assert.equal(gate.stage, 'before');
    const response = await t.http.post('/api/v1/events').set(events).send({ event: 'dids.activate', object_id: nextObject() });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.deepEqual(response.body.deliveries.map((d: { handler_id: number }) => d.handler_id), [notify.id]);
    await notifyReceiver.waitFor(1);
    await sleep(300);
    assert.equal(gateReceiver.requests.length, 0);
    assert.equal((await logsOf(gate.id)).length, 0);
  });

  it('refuses bad input (unknown event, wrong data type, malformed JSON) and keys without events/admin, asking nobody', async () => {
    const gateReceiver = await h.receiver(allow);
    const gate = await h.handler(gateReceiver, { event: 'clients.archive' });
    const post = (body: string | object, headers: Headers = events) =>
      t.http.post('/api/v1/events/decide').set(headers).set('Content-Type', 'application/json').send(body);

    const unknown = await post({ event: 'clients.explode', object_id: 1 });
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.equal(unknown.body.code, 'UNKNOWN_EVENT');
    assert.equal(unknown.body.details[0].field, 'event');

    const wrongType = await post({ event: 'clients.archive', object_id: 1, data: { id: 1, balance: 'lots' } });
    assert.equal(wrongType.status, 400, JSON.stringify(wrongType.body));
    assert.equal(wrongType.body.code, 'DATA_INVALID');
    assert.ok(wrongType.body.details.some((d: { field: string }) => d.field === 'data.balance'), JSON.stringify(wrongType.body.details));

    const wrongId = await post({ event: 'clients.archive', object_id: 1, data: { id: 2 } });
    assert.equal(wrongId.status, 400);
    assert.equal(wrongId.body.code, 'DATA_INVALID');

    const malformed = await post('{"event": "clients.archive", ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.code, 'MALFORMED_JSON');

    const good = { event: 'clients.archive', object_id: 1 };
    for (const scope of ['read', 'internal'] as const) {
      const refused = await post(good, bearer(await (scope === 'internal' ? t.key(scope) : t.key(scope))));
      assert.equal(refused.status, 403, `${scope}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.code, 'SCOPE_FORBIDDEN');
    }
    const anonymous = await t.http.post('/api/v1/events/decide').send(good);
    assert.equal(anonymous.status, 401);

    await sleep(200);
    assert.equal(gateReceiver.requests.length, 0);
    assert.equal((await logsOf(gate.id)).length, 0);

    // The same body with a key that may decide does reach the handler (the refusals above were real).
    const allowedKey = await post(good, admin);
    assert.equal(allowedKey.status, 200, JSON.stringify(allowedKey.body));
    assert.equal(allowedKey.body.allowed, true);
    assert.equal(gateReceiver.requests.length, 1);
  });
});

forEachDatabase(`decisions: the chain's time budget (DECISION_BUDGET_MS=600)`, { env: { DECISION_BUDGET_MS: '600' } }, (t) => {
  let events: Headers;
  let objectId = 9000;
  const h = harness(() => t);

  before(async () => {
    events = await keyHeaders(t, 'events');
  });

  const payment = () => {
    const id = ++objectId;
    return { id, clients_id: 12, type: 'payment', amount: '25.00' };
  };

  it("cuts the slow handler at the budget, counts it as allow per its on_failure, and spends nothing on the rest", async () => {
    const slow = await h.receiver(() => ({ status: 200, body: '', delayMs: 3000 }));
    const later = await h.receiver(allow);
    const h1 = await h.handler(slow, { event: 'accounting.payments.create', priority: 1, timeout_ms: 5000, on_failure: 'allow' });
    const h2 = await h.handler(later, { event: 'accounting.payments.create', priority: 2, on_failure: 'allow' });

    const data = payment();
    const { decision, elapsed } = await h.decide({ event: 'accounting.payments.create', object_id: data.id, data }, events);
    assert.ok(elapsed < 1500, `decide took ${elapsed} ms with a 600 ms budget`);
    assert.ok(elapsed >= 550, `decide took only ${elapsed} ms`);
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.data, data);
    const [cut, skipped] = decision.calls;
    assert.equal(cut!.handler_id, h1.id);
    assert.equal(cut!.outcome, 'failed');
    assert.equal(cut!.counted_as, 'allow');
    assert.match(cut!.error ?? '', /decision budget/);
    assert.ok(cut!.duration_ms >= 500 && cut!.duration_ms < 1200, `the cut call took ${cut!.duration_ms} ms`);
    assert.equal(skipped!.handler_id, h2.id);
    assert.equal(skipped!.outcome, 'failed');
    assert.equal(skipped!.counted_as, 'allow');
    assert.match(skipped!.error ?? '', /budget/);
    assert.equal(slow.requests.length, 1);
    assert.equal(later.requests.length, 0, 'a handler was called after the budget was spent');
  });

  it("cuts the slow handler at the budget and forbids when its on_failure is forbid", async () => {
    const slow = await h.receiver(() => ({ status: 200, body: '', delayMs: 3000 }));
    const later = await h.receiver(allow);
    const h1 = await h.handler(slow, { event: 'accounting.payments.update', priority: 1, timeout_ms: 5000, on_failure: 'forbid' });
    await h.handler(later, { event: 'accounting.payments.update', priority: 2, on_failure: 'allow' });

    const data = payment();
    const { decision, elapsed } = await h.decide({ event: 'accounting.payments.update', object_id: data.id, data }, events);
    assert.ok(elapsed < 1500, `decide took ${elapsed} ms with a 600 ms budget`);
    assert.equal(decision.allowed, false);
    assert.deepEqual(decision.decided_by, { id: h1.id, name: h1.name });
    assert.deepEqual(decision.calls.map((c) => [c.handler_id, c.outcome, c.counted_as]), [[h1.id, 'failed', 'forbid']]);
    assert.match(decision.calls[0]!.error ?? '', /cut by the decision budget/);
    assert.equal(later.requests.length, 0);
  });
});
