import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { queryDatabase } from '../utils/databases.js';
import { bearer } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';
import { EventStore } from '../../src/events/event-store.js';

/*
 * On MySQL/MariaDB an ingest write is one round trip: START TRANSACTION, the events' INSERT, the
 * deliveries' INSERT (their event ids taken from session variables the events' INSERT left) and
 * COMMIT in one text (DirectSql.scriptTransaction). These check the ids it answers and stores,
 * in both forms of the events' INSERT (one multi-row INSERT with ids a step apart; one INSERT
 * per event, as with innodb_autoinc_lock_mode = 2), and that a statement failing mid-way leaves
 * nothing behind.
 */

/** Every event's deliveries point at it, in run order, and each answer names its own stored event. */
async function assertStoredAsAnswered(t: { db: Parameters<typeof queryDatabase>[0] }, answers: { id: number; object_id: number }[], handlers: number): Promise<void> {
  const ids = answers.map((answer) => answer.id);
  const events = await queryDatabase<{ id: number; object_id: number }>(t.db, `SELECT id, object_id FROM events WHERE id IN (${ids.join(', ')})`);
  assert.equal(events.length, answers.length);
  const objectOf = new Map(events.map((row) => [Number(row.id), Number(row.object_id)]));
  for (const answer of answers) assert.equal(objectOf.get(answer.id), answer.object_id, `event ${answer.id}`);
  const deliveries = await queryDatabase<{ event_id: number; seq: number; object_key: string }>(
    t.db,
    `SELECT event_id, seq, object_key FROM deliveries WHERE event_id IN (${ids.join(', ')}) ORDER BY event_id, seq`,
  );
  assert.equal(deliveries.length, answers.length * handlers);
  for (const answer of answers) {
    const mine = deliveries.filter((row) => Number(row.event_id) === answer.id);
    assert.deepEqual(
      mine.map((row) => Number(row.seq)),
      Array.from({ length: handlers }, (_v, seq) => seq),
    );
    for (const row of mine) assert.match(String(row.object_key), new RegExp(`:${answer.object_id}$`));
  }
}

forEachDatabase(
  'ingest on MySQL/MariaDB in one round trip, with ids a step apart',
  {
    only: 'mysql',
    // The server numbers rows 3 apart from here on (connections opened before keep their own step).
    prepare: (db) => queryDatabase(db, 'SET GLOBAL auto_increment_increment = 3').then(() => undefined),
    // Nothing is delivered: the deliveries stay in the queue to be checked.
    env: { INSTANCE_ROLE: 'api' },
  },
  (t) => {
    let r: TestReceiver;
    // Back to the server's default once the app has closed, whatever happened.
    t.cleanup(() => queryDatabase(t.db, 'SET GLOBAL auto_increment_increment = 1').then(() => undefined));

    before(async () => {
      r = await t.receiver();
      for (const name of ['first', 'second']) {
        await t.http.post('/api/v1/handlers').set(bearer(t.adminKey)).send({ name, event: 'clients.create', type: 'http', task: r.task() }).expect(201);
      }
    });

    it('a batch and concurrent single posts: each answer names its own event, and its deliveries point at it', async () => {
      const admin = bearer(t.adminKey);
      const batch = await t.http
        .post('/api/v1/events/batch')
        .set(admin)
        .send({ events: Array.from({ length: 20 }, (_v, i) => ({ event: 'clients.create', object_id: 100 + i })) })
        .expect(200);
      const singles = await Promise.all(
        Array.from({ length: 40 }, (_v, i) => t.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 200 + i })),
      );
      for (const single of singles) assert.equal(single.status, 202);
      const answers = [...batch.body.items.map((item: { event: { id: number; object_id: number } }) => item.event), ...singles.map((single) => single.body)];
      const steps = new Set(batch.body.items.slice(1).map((item: { event: { id: number } }, i: number) => item.event.id - batch.body.items[i].event.id));
      assert.deepEqual([...steps], [3], 'the batch was one INSERT numbered 3 apart');
      await assertStoredAsAnswered(t, answers, 2);
    });

    it('one INSERT per event (the form for innodb_autoinc_lock_mode = 2, where a multi-row INSERT may not number its rows a step apart)', async () => {
      const store = t.app.get(EventStore) as unknown as { idAllocation: Promise<unknown> };
      const allocation = store.idAllocation;
      store.idAllocation = Promise.resolve('one-by-one');
      try {
        const batch = await t.http
          .post('/api/v1/events/batch')
          .set(bearer(t.adminKey))
          .send({ events: Array.from({ length: 15 }, (_v, i) => ({ event: 'clients.create', object_id: 300 + i })) })
          .expect(200);
        await assertStoredAsAnswered(
          t,
          batch.body.items.map((item: { event: { id: number; object_id: number } }) => item.event),
          2,
        );
      } finally {
        store.idAllocation = allocation;
      }
    });

    it('a statement that fails after the events were inserted: nothing is kept, and the next post is stored on the same connections', async () => {
      const admin = bearer(t.adminKey);
      const before = await queryDatabase<{ n: number }>(t.db, 'SELECT COUNT(*) AS n FROM events');
      // The deliveries' INSERT fails on the server for object 666, after the events' INSERT ran in the same text.
      await queryDatabase(
        t.db,
        `CREATE TRIGGER refuse_666 BEFORE INSERT ON deliveries FOR EACH ROW
           IF NEW.object_key LIKE '%:666' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by the test'; END IF`,
      );
      try {
        const refused = await t.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 666 });
        assert.equal(refused.status, 500);
        assert.doesNotMatch(JSON.stringify(refused.body), /refused by the test|INSERT/);
        const batch = await t.http
          .post('/api/v1/events/batch')
          .set(admin)
          .send({ events: [{ event: 'clients.create', object_id: 665 }, { event: 'clients.create', object_id: 666 }] });
        assert.equal(batch.status, 500);
        const after = await queryDatabase<{ n: number }>(t.db, 'SELECT COUNT(*) AS n FROM events');
        assert.equal(Number(after[0]!.n), Number(before[0]!.n), 'the events of the failed writes were rolled back');
      } finally {
        await queryDatabase(t.db, 'DROP TRIGGER refuse_666');
      }
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_v, i) => t.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 700 + i })),
      );
      for (const answer of answers) assert.equal(answer.status, 202);
      await assertStoredAsAnswered(
        t,
        answers.map((answer) => answer.body),
        2,
      );
    });
  },
);
