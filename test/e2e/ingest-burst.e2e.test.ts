import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';

forEachDatabase('concurrent posts share transactions and keep every id right', { env: { DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let r: TestReceiver;

  before(async () => {
    r = await t.receiver();
  });

  it('200 concurrent posts: each answer names its own event, and each event is delivered once with its own data', async () => {
    const admin = bearer(t.adminKey);
    await t.http.post('/api/v1/handlers').set(admin).send({ name: 'burst', event: 'clients.create', type: 'http', task: r.task() }).expect(201);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_v, i) =>
        t.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 5000 + i, data: { name: `client ${i}` } }),
      ),
    );
    const ids = new Set<number>();
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.status, 202);
      assert.equal(answer.body.object_id, 5000 + i);
      ids.add(answer.body.id);
    }
    assert.equal(ids.size, 200);
    for (const answer of answers.filter((_a, i) => i % 20 === 0)) {
      const stored = (await t.http.get(`/api/v1/events/${answer.body.id}`).set(admin)).body;
      assert.equal(stored.object_id, answer.body.object_id);
      assert.equal(stored.data.name, `client ${answer.body.object_id - 5000}`);
    }
    const requests = await r.waitFor(200, 30_000);
    const objects = requests.map((q) => JSON.parse(q.body)).map((e) => [e.event.object_id, e.data.name]);
    assert.equal(new Set(objects.map(([id]) => id)).size, 200);
    for (const [id, name] of objects) assert.equal(name, `client ${id - 5000}`);
  });
});
