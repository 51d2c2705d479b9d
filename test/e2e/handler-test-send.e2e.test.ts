import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';

forEachDatabase('handler test send', {}, (t) => {
  let r: TestReceiver;

  before(async () => {
    // A few milliseconds of delay, so the measured duration is almost never a whole number.
    r = await t.receiver(() => ({ status: 200, body: '{}', delayMs: 7 }));
  });

  it('answers duration_ms in whole milliseconds, equal to its execution log row', async () => {
    const admin = bearer(t.adminKey);
    const created = await t.http.post('/api/v1/handlers').set(admin).send({ name: 'timed', event: 'clients.create', type: 'http', task: r.task() });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (let i = 0; i < 3; i++) {
      const sent = await t.http.post(`/api/v1/handlers/${created.body.id}/test`).set(admin).send({});
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.ok(Number.isInteger(sent.body.duration_ms), `duration_ms ${sent.body.duration_ms} is not whole milliseconds`);
      const row = await t.http.get(`/api/v1/execution-logs/${sent.body.id}`).set(admin);
      assert.equal(row.status, 200, JSON.stringify(row.body));
      assert.equal(sent.body.duration_ms, row.body.duration_ms);
    }
    assert.equal(r.requests.length, 3);
  });
});
