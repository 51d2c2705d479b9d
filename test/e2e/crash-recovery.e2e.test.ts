import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { forEachDatabase } from '../utils/suite.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { api, tail } from '../utils/service-process.js';

/**
 * A worker dies (SIGKILL) while its deliveries are in flight; another instance on the same
 * database takes over the expired leases and delivers every event (at least once), none failed.
 */

const EVENTS = 5;
const LEASE_MS = '2000';

interface DeliveryState {
  id: number;
  status: string;
  attempts: number;
  last_error: string | null;
}

forEachDatabase("crash recovery: a killed worker's in-flight deliveries are taken over", { start: false }, (t) => {
  let receiver: TestReceiver;
  let hanging = true;

  before(async () => {
    receiver = await t.receiver(() => (hanging ? { hang: true } : { status: 200, body: '{"ok":true}' }));
  });

  it(`SIGKILL with ${EVENTS} deliveries in flight; a second instance delivers every event, none failed`, { timeout: 60_000 }, async () => {
    const key = t.adminKey;
    const env = { DISPATCH_LEASE_MS: LEASE_MS, DISPATCH_POLL_INTERVAL_MS: '100', INSTANCE_ROLE: 'both', LOG_LEVEL: 'debug' };

    // Process A: takes the events and hangs on every call (the handler timeout is 15 s).
    const a = await t.service('A', env);
    const handler = await api(a, key, 'POST', '/api/v1/handlers', {
      name: 'crash receiver',
      event: 'clients.update',
      type: 'http',
      task: receiver.task('/crash'),
      priority: 1,
    });
    assert.equal(handler.status, 201, JSON.stringify(handler.body));

    const objectIds = Array.from({ length: EVENTS }, (_, i) => 1001 + i);
    const eventIds: number[] = [];
    for (const objectId of objectIds) {
      const posted = await api(a, key, 'POST', '/api/v1/events', {
        event: 'clients.update',
        object_id: objectId,
        data: { id: objectId, name: `client ${objectId}` },
      });
      assert.equal(posted.status, 202, JSON.stringify(posted.body));
      assert.equal(posted.body.deliveries.length, 1, 'one handler matches, so one delivery per event');
      eventIds.push(posted.body.id as number);
    }

    // Different objects: all five are claimed at once and hang at the receiver.
    await receiver.waitFor(EVENTS, 10_000).catch((error: Error) => assert.fail(`${error.message}${tail(a)}`));
    for (const id of eventIds) {
      const detail = await api(a, key, 'GET', `/api/v1/events/${id}`);
      assert.equal(detail.status, 200);
      assert.deepEqual(
        detail.body.deliveries.map((d: DeliveryState) => d.status),
        ['in_progress'],
        `event ${id} should be in flight before the kill: ${JSON.stringify(detail.body.deliveries)}`,
      );
    }
    const seenBeforeKill = new Set(receiver.requests.map((r) => JSON.parse(r.body).event.object_id as number));
    assert.deepEqual([...seenBeforeKill].sort((x, y) => x - y), objectIds);

    // Kill A without a chance to release its claims; the receiver now answers 200.
    const exited = once(a.child, 'exit');
    a.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    hanging = false;

    // Process B on the same database (same SQLite file, same MySQL schema) takes over.
    const b = await t.service('B', env);
    const finalStates = await eventually(
      async () => {
        const states: DeliveryState[][] = [];
        for (const id of eventIds) {
          const detail = await api(b, key, 'GET', `/api/v1/events/${id}`);
          if (detail.status !== 200) return undefined;
          const deliveries = detail.body.deliveries as DeliveryState[];
          assert.ok(
            deliveries.every((d) => d.status !== 'failed'),
            `event ${id} has a failed delivery: ${JSON.stringify(deliveries)}${tail(b)}`,
          );
          if (!deliveries.every((d) => d.status === 'succeeded')) return undefined;
          states.push(deliveries);
        }
        return states;
      },
      20_000,
      'every delivery succeeded through B',
    ).catch(async (error: Error) => {
      const now: string[] = [];
      for (const id of eventIds) now.push(`event ${id}: ${JSON.stringify((await api(b, key, 'GET', `/api/v1/events/${id}`)).body.deliveries)}`);
      assert.fail(`${error.message}\n${now.join('\n')}${tail(a)}${tail(b)}`);
    });
    assert.equal(finalStates.length, EVENTS);

    // The receiver got every event's envelope again after the kill (at least once each).
    const afterKill = receiver.requests.filter((r) => r.at >= killedAt);
    const redelivered = new Set(afterKill.map((r) => JSON.parse(r.body).event.object_id as number));
    assert.deepEqual([...redelivered].sort((x, y) => x - y), objectIds, `object ids delivered after the kill`);
    for (const r of afterKill) {
      const envelope = JSON.parse(r.body);
      assert.equal(envelope.event.events_id, 'clients.update');
      assert.deepEqual(envelope.data, { id: envelope.event.object_id, name: `client ${envelope.event.object_id}` });
    }

    // The execution log shows the successful call of each event, and no failure.
    for (const id of eventIds) {
      const logs = await api(b, key, 'GET', `/api/v1/execution-logs?event_id=${id}`);
      assert.equal(logs.status, 200, JSON.stringify(logs.body));
      const statuses = (logs.body.items as { status: string }[]).map((item) => item.status);
      assert.ok(statuses.includes('success'), `event ${id} execution logs: ${JSON.stringify(logs.body.items)}`);
      assert.ok(!statuses.includes('fail'), `event ${id} execution logs: ${JSON.stringify(logs.body.items)}`);
    }
  });
});
