import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';
import { EVENT_CATALOG } from '../../src/events/event-catalog.js';
import { ENTITY_SHAPES, FieldType } from '../../src/events/entity-shapes.js';

/** A value of the wrong type for a field of `type`. */
const wrongValue = (type: FieldType): unknown => (type === 'string' ? 42 : 'not-valid');

/** The first known field of the entity other than id, with its type. */
const someField = (entity: keyof typeof ENTITY_SHAPES): [string, FieldType] =>
  Object.entries(ENTITY_SHAPES[entity].fields).find(([name]) => name !== 'id')!;

forEachDatabase(`decisions: replaced data must fit the event's entity, for every event of the catalog`, {}, (t) => {
  let r: TestReceiver;
  /** What the gate answers next. */
  let answer: unknown = {};

  before(async () => {
    r = await t.receiver(() => ({ status: 200, body: JSON.stringify(answer) }));
    const gate = await t.http
      .post('/api/v1/handlers')
      .set(bearer(t.adminKey))
      .send({ name: 'gate', event: '*', type: 'http', task: r.task(), stage: 'before', on_failure: 'allow' });
    assert.equal(gate.status, 201, JSON.stringify(gate.body));
  });

  for (const event of EVENT_CATALOG) {
    it(`${event.id}: bad data answered by the gate is a failure and the data stays; good data replaces it`, async () => {
      const objectId = event.sampleObjectId;
      const input = { ...event.sampleData };
      const [field, type] = someField(event.entity);
      const bad: [string, Record<string, unknown>][] = [
        ['a field of another entity with a bad value', { balance: 'x' }],
        ['another object', { ...input, id: objectId + 1 }],
        [`${field} of the wrong type`, { ...input, id: objectId, [field]: wrongValue(type) }],
        ['a field outside the shape', { ...input, id: objectId, invented_field: 1 }],
      ];
      for (const [label, data] of bad) {
        answer = { data };
        const response = await t.http.post('/api/v1/events/decide').set(bearer(t.adminKey)).send({ event: event.id, object_id: objectId, data: input });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        const [call] = response.body.calls;
        assert.equal(call.outcome, 'failed', `${label}: ${JSON.stringify(call)}`);
        assert.equal(call.counted_as, 'allow');
        assert.match(call.error ?? '', /wrong shape/, label);
        assert.deepEqual(response.body.data, input, `${label}: the data was replaced`);
      }
      // The same gate answering data that fits does replace it (so the refusals above are about the data).
      const good = { ...input, id: objectId };
      answer = { data: good };
      const response = await t.http.post('/api/v1/events/decide').set(bearer(t.adminKey)).send({ event: event.id, object_id: objectId, data: input });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.calls[0].outcome, 'modified', JSON.stringify(response.body.calls[0]));
      assert.deepEqual(response.body.data, good);
    });
  }
});
