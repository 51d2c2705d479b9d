import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { createHandler } from '../factories/handler.factory.js';
import { firstLogOf, postEvent } from '../factories/event.factory.js';

forEachDatabase('HTTP calls: redirects, timeouts, answer cap', { env: { RESPONSE_BODY_CAP_BYTES: '64', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let admin: Record<string, string>;

  before(async () => {
    admin = bearer(t.adminKey);
  });

  /** Creates a handler for `event`, posts one event, and answers its first log row. */
  const callOnce = async (event: string, task: string, extra: Record<string, unknown> = {}) => {
    await createHandler(t, { name: event, event, task, retry_limit: 0, ...extra }, admin);
    return firstLogOf(t, (await postEvent(t, { event, object_id: 1 }, admin)).id, { headers: admin });
  };

  it('does not follow a redirect: a 3xx is a failure and the target is never called', async () => {
    const target = await t.receiver(() => ({ status: 200 }));
    const redirecting = await t.receiver(() => ({ status: 302, headers: { location: `http://${target.task('/elsewhere')}` }, body: '' }));
    const log = await callOnce('dids.create', redirecting.task());
    assert.equal(log.status, 'fail');
    assert.equal(log.response_code, 302);
    assert.match(log.error, /redirect \(302\) not followed/);
    assert.equal(target.requests.length, 0);
  });

  it("ends a call at the handler's timeout", async () => {
    const hanging = await t.receiver(() => ({ hang: true }));
    const log = await callOnce('dids.update', hanging.task(), { timeout_ms: 300 });
    assert.equal(log.status, 'fail');
    assert.equal(log.error, 'timeout after 300 ms');
    assert.ok(log.duration_ms >= 290 && log.duration_ms < 3000, `duration ${log.duration_ms}`);
  });

  it('keeps the answer only up to RESPONSE_BODY_CAP_BYTES', async () => {
    const chatty = await t.receiver(() => ({ status: 200, body: 'x'.repeat(100_000) }));
    const log = await callOnce('dids.activate', chatty.task());
    assert.equal(log.status, 'success');
    assert.equal(log.response_data, 'x'.repeat(64));
  });

  it('reports a refused connection plainly', async () => {
    const closed = await t.receiver(() => ({ status: 200 }));
    const task = closed.task();
    await closed.stop();
    const log = await callOnce('dids.block', task);
    assert.equal(log.status, 'fail');
    assert.equal(log.error, 'connection refused');
    assert.equal(log.response_code, null);
  });
});
