import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { compareHandlers, HandlerIndex } from '../../src/cache-manager/handler-index.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';
import { handlerEntity as handler } from '../factories/handler-entity.factory.js';

const ids = (list: readonly HandlerEntity[]) => list.map((h) => h.id);

describe('HandlerIndex', () => {
  it('orders by priority (3,1,2 → 1,2,3)', () => {
    const index = new HandlerIndex([
      handler({ id: 1, priority: 3 }),
      handler({ id: 2, priority: 1 }),
      handler({ id: 3, priority: 2 }),
    ]);
    assert.deepEqual(
      index.lookup('clients.create').map((h) => h.priority),
      [1, 2, 3],
    );
    assert.deepEqual(ids(index.lookup('clients.create')), [2, 3, 1]);
  });

  it('breaks priority ties by id regardless of insertion order', () => {
    const index = new HandlerIndex([
      handler({ id: 9, priority: 5 }),
      handler({ id: 4, priority: 5 }),
      handler({ id: 7, priority: 5 }),
      handler({ id: 1, priority: 6 }),
    ]);
    assert.deepEqual(ids(index.lookup('clients.create')), [4, 7, 9, 1]);
  });

  it('interleaves wildcard and exact handlers by priority', () => {
    const index = new HandlerIndex([
      handler({ id: 1, event: 'clients.create', priority: 20 }),
      handler({ id: 2, event: '*', priority: 5 }),
      handler({ id: 3, event: 'clients.*', priority: 15 }),
      handler({ id: 4, event: 'clients.create', priority: 10 }),
      handler({ id: 5, event: 'dids.*', priority: 1 }),
    ]);
    assert.deepEqual(ids(index.lookup('clients.create')), [2, 4, 3, 1]);
    assert.deepEqual(ids(index.lookup('dids.block')), [5, 2]);
    assert.deepEqual(ids(index.lookup('clients.accounts.update')), [2, 3]);
  });

  it('excludes disabled and archived handlers', () => {
    const index = new HandlerIndex([
      handler({ id: 1, status: 'enabled' }),
      handler({ id: 2, status: 'disabled' }),
      handler({ id: 3, status: 'archived' }),
      handler({ id: 4, status: 'disabled', event: '*' }),
    ]);
    assert.deepEqual(ids(index.lookup('clients.create')), [1]);
    assert.equal(index.size, 1);
  });

  it('separates the before and after stages', () => {
    const index = new HandlerIndex([
      handler({ id: 1, stage: 'after' }),
      handler({ id: 2, stage: 'before' }),
      handler({ id: 3, stage: 'before', event: '*', priority: 1 }),
    ]);
    assert.deepEqual(ids(index.lookup('clients.create')), [1], 'default stage is after');
    assert.deepEqual(ids(index.lookup('clients.create', 'after')), [1]);
    assert.deepEqual(ids(index.lookup('clients.create', 'before')), [3, 2]);
    assert.deepEqual(ids(index.lookup('dids.create', 'after')), []);
    assert.deepEqual(ids(index.lookup('dids.create', 'before')), [3]);
  });

  it('returns an empty list for an unknown event or one without handlers', () => {
    const index = new HandlerIndex([handler({ id: 1, event: '*' })]);
    assert.deepEqual([...index.lookup('no.such.event')], []);
    assert.deepEqual([...new HandlerIndex([]).lookup('clients.create')], []);
  });

  it('size counts enabled handlers (not index entries)', () => {
    const index = new HandlerIndex([
      handler({ id: 1, event: '*' }),
      handler({ id: 2, event: 'clients.*', stage: 'before' }),
      handler({ id: 3, status: 'disabled' }),
    ]);
    assert.equal(index.size, 2);
    assert.equal(new HandlerIndex([]).size, 0);
  });

  it('returns the same precomputed array on repeated lookups', () => {
    const index = new HandlerIndex([handler({ id: 1 }), handler({ id: 2, priority: 1 })]);
    const first = index.lookup('clients.create');
    assert.strictEqual(index.lookup('clients.create'), first);
    assert.strictEqual(index.lookup('clients.create', 'after'), first);
    assert.ok(Object.isFrozen(first));
  });

  it('does not sort or mutate the caller’s input', () => {
    const input = [handler({ id: 2, priority: 2 }), handler({ id: 1, priority: 1 })];
    new HandlerIndex(input);
    assert.deepEqual(ids(input), [2, 1]);
  });

  it('compareHandlers orders by priority then id', () => {
    assert.ok(compareHandlers({ priority: 1, id: 9 }, { priority: 2, id: 1 }) < 0);
    assert.ok(compareHandlers({ priority: 2, id: 1 }, { priority: 2, id: 3 }) < 0);
    assert.ok(compareHandlers({ priority: 2, id: 3 }, { priority: 2, id: 1 }) > 0);
    assert.equal(compareHandlers({ priority: 2, id: 3 }, { priority: 2, id: 3 }), 0);
  });
});
