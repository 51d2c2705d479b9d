import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { assertValidFilter, compileFilter, FilterEnvelope, filterEnvelope, FilterLimits, filterProblems, HandlerFilter } from '../../src/handlers/handler-filter.js';
import { HandlerIndex, TesterOf } from '../../src/cache-manager/handler-index.js';
import type { HandlerEntity } from '../../src/handlers/handler.entity.js';
import { DomainError } from '../../src/common/errors.js';
import { DEFAULTS } from '../../src/config/app-config.js';
import { handlerEntity } from '../factories/handler-entity.factory.js';

const LIMITS: FilterLimits = { maxBytes: DEFAULTS.filterMaxBytes, maxDepth: DEFAULTS.filterMaxDepth };

const envelope = (data: Record<string, unknown>, eventsId = 'clients.update', objectId = 12): FilterEnvelope => ({
  event: { dt: '2026-11-22T10:15:30+00:00', events_id: eventsId, object_id: objectId },
  data,
});

/** Whether `filter` (which must be valid) matches `env`. */
function matches(filter: HandlerFilter, env: FilterEnvelope): boolean {
  assert.deepEqual(filterProblems(filter, LIMITS), [], `the filter ${JSON.stringify(filter)} should be valid`);
  const test = compileFilter(filter);
  return test === null || test(env);
}

/** The fields at fault, in order. */
const faults = (filter: unknown, limits = LIMITS) => filterProblems(filter, limits).map((problem) => problem.field);

describe('payload filters: matching', () => {
  const client = envelope({ id: 12, companies_id: 3, balance: -20.5, status: 'active', tags: ['vip', 'north'], custom_fields: { crm: 'A-1' } });

  it('matches a field by value, and not another value', () => {
    assert.equal(matches({ 'data.companies_id': 3 }, client), true);
    assert.equal(matches({ 'data.companies_id': 4 }, client), false);
  });

  it('compares with $lt, $lte, $gt, $gte, $ne (numbers with numbers only)', () => {
    assert.equal(matches({ 'data.balance': { $lt: 0 } }, client), true);
    assert.equal(matches({ 'data.balance': { $gte: 0 } }, client), false);
    assert.equal(matches({ 'data.balance': { $gt: -21, $lte: -20.5 } }, client), true);
    assert.equal(matches({ 'data.status': { $ne: 'archive' } }, client), true);
    // A decimal sent as a string is not a number: "12.50" < 0 does not hold, and does not throw.
    assert.equal(matches({ 'data.balance': { $lt: 0 } }, envelope({ balance: '-12.50' })), false);
  });

  it('tests membership with $in and $nin', () => {
    assert.equal(matches({ 'data.companies_id': { $in: [1, 3] } }, client), true);
    assert.equal(matches({ 'data.companies_id': { $in: [1, 2] } }, client), false);
    assert.equal(matches({ 'data.companies_id': { $nin: [1, 2] } }, client), true);
    // An array field matches when one element is in the set.
    assert.equal(matches({ 'data.tags': { $in: ['vip'] } }, client), true);
  });

  it('combines with $or, $and, $nor and $not', () => {
    const lowOrSuspended = { $or: [{ 'data.balance': { $lt: 0 } }, { 'data.status': 'suspended' }] };
    assert.equal(matches(lowOrSuspended, client), true);
    assert.equal(matches(lowOrSuspended, envelope({ balance: 5, status: 'active' })), false);
    assert.equal(matches(lowOrSuspended, envelope({ balance: 5, status: 'suspended' })), true);
    assert.equal(matches({ $and: [{ 'data.companies_id': 3 }, { 'data.status': 'active' }] }, client), true);
    assert.equal(matches({ $nor: [{ 'data.companies_id': 3 }] }, client), false);
    assert.equal(matches({ 'data.balance': { $not: { $lt: 0 } } }, client), false);
  });

  it('tests presence with $exists (present but null counts as present)', () => {
    assert.equal(matches({ 'data.custom_fields.crm': { $exists: true } }, client), true);
    assert.equal(matches({ 'data.credit': { $exists: true } }, client), false);
    assert.equal(matches({ 'data.credit': { $exists: false } }, client), true);
    assert.equal(matches({ 'data.credit': { $exists: true } }, envelope({ credit: null })), true);
  });

  it('reads arrays with $all, $size and $elemMatch', () => {
    assert.equal(matches({ 'data.tags': { $all: ['north', 'vip'] } }, client), true);
    assert.equal(matches({ 'data.tags': { $size: 2 } }, client), true);
    assert.equal(matches({ 'data.tags': { $elemMatch: { $eq: 'north' } } }, client), true);
    const account = envelope({ ips: [{ ip: '10.0.0.1', port: 5060 }, { ip: '10.0.0.2', port: 5080 }] });
    assert.equal(matches({ 'data.ips': { $elemMatch: { ip: '10.0.0.2', port: { $gt: 5070 } } } }, account), true);
    assert.equal(matches({ 'data.ips': { $elemMatch: { ip: '10.0.0.1', port: { $gt: 5070 } } } }, account), false);
  });

  it('reads the event part of the envelope: events_id, object_id, dt', () => {
    assert.equal(matches({ 'event.events_id': { $in: ['clients.create', 'clients.update'] } }, client), true);
    assert.equal(matches({ 'event.events_id': 'clients.create' }, client), false);
    assert.equal(matches({ 'event.object_id': { $gte: 10 } }, client), true);
    assert.equal(matches({ 'event.dt': { $gte: '2026-11-01' } }, client), true);
  });

  it('compares a whole object or array exactly', () => {
    assert.equal(matches({ 'data.custom_fields': { crm: 'A-1' } }, client), true);
    assert.equal(matches({ 'data.custom_fields': { crm: 'A-2' } }, client), false);
    assert.equal(matches({ 'data.tags': ['vip', 'north'] }, client), true);
  });

  it('an empty filter matches everything and compiles to nothing to evaluate', () => {
    assert.equal(compileFilter({}), null);
    assert.deepEqual(filterProblems({}, LIMITS), []);
  });

  it('builds the envelope from the stored JSON of the data, as the handler is sent it', () => {
    const built = filterEnvelope({ eventType: 'clients.update', objectId: 7, dt: '2026-11-22T10:15:30+00:00', dataJson: '{"id":7,"balance":-1}' });
    assert.deepEqual(built, { event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.update', object_id: 7 }, data: { id: 7, balance: -1 } });
  });
});

describe('payload filters: validation', () => {
  it('accepts the examples integrators write', () => {
    for (const filter of [
      { 'data.companies_id': 3 },
      { 'data.balance': { $lt: 0 } },
      { 'data.companies_id': { $in: [1, 3] }, 'data.status': { $ne: 'archive' } },
      { $or: [{ 'data.balance': { $lt: 0 } }, { 'data.custom_fields.vip': { $exists: true } }] },
      { 'event.events_id': { $nin: ['clients.delete'] } },
    ]) {
      assert.deepEqual(filterProblems(filter, LIMITS), [], JSON.stringify(filter));
    }
  });

  it('names the position of the error inside the filter', () => {
    assert.deepEqual(faults({ $or: [{ 'data.x': 1 }, { 'data.balance': { $regex: '^(a+)+$' } }] }), ['filter.$or[1].data.balance.$regex']);
    assert.deepEqual(faults({ $or: [{ 'data.x': 1 }, { balance: { $lt: 0 } }] }), ['filter.$or[1].balance']);
    assert.deepEqual(faults({ 'data.tags': { $in: 'vip' } }), ['filter.data.tags.$in']);
    assert.deepEqual(faults({ 'data.a': { $elemMatch: { b: { $where: 'x' } } } }), ['filter.data.a.$elemMatch.b.$where']);
  });

  it('refuses operators outside the safe subset: code, patterns, expressions', () => {
    for (const op of ['$where', '$regex', '$expr', '$function', '$options', '$text', '$jsonSchema', '$type', '$mod']) {
      const problems = filterProblems({ 'data.name': { [op]: 'x' } }, LIMITS);
      assert.equal(problems.length, 1, op);
      assert.equal(problems[0]!.field, `filter.data.name.${op}`);
      assert.match(problems[0]!.message, /is not an allowed operator; allowed: \$eq, /);
    }
    assert.deepEqual(faults({ $where: 'this.data.balance < 0' }), ['filter.$where']);
  });

  it('refuses paths outside the envelope, with a hint', () => {
    const [problem] = filterProblems({ companies_id: 3 }, LIMITS);
    assert.equal(problem!.field, 'filter.companies_id');
    assert.match(problem!.message, /data\.<field>/);
    assert.deepEqual(faults({ 'event.name': 'x' }), ['filter.event.name']);
    assert.deepEqual(faults({ 'event.events_id.x': 'x' }), ['filter.event.events_id.x']);
    assert.deepEqual(faults({ 'data..x': 1 }), ['filter.data..x']);
    assert.deepEqual(faults({ 'data.x.': 1 }), ['filter.data.x.']);
  });

  it('refuses paths that reach inherited properties (constructor, toString, __proto__)', () => {
    for (const segment of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      assert.deepEqual(faults({ [`data.${segment}`]: { $exists: true } }), [`filter.data.${segment}`], segment);
    }
    const polluted = JSON.parse('{"data.__proto__.x": 1}');
    assert.deepEqual(faults(polluted), ['filter.data.__proto__.x']);
  });

  it('refuses wrong operand types', () => {
    assert.deepEqual(faults({ 'data.a': { $lt: [1] } }), ['filter.data.a.$lt']);
    assert.deepEqual(faults({ 'data.a': { $exists: 'yes' } }), ['filter.data.a.$exists']);
    assert.deepEqual(faults({ 'data.a': { $size: -1 } }), ['filter.data.a.$size']);
    assert.deepEqual(faults({ 'data.a': { $size: 1.5 } }), ['filter.data.a.$size']);
    assert.deepEqual(faults({ 'data.a': { $all: [] } }), ['filter.data.a.$all']);
    assert.deepEqual(faults({ $or: [] }), ['filter.$or']);
    assert.deepEqual(faults({ $and: { 'data.a': 1 } }), ['filter.$and']);
    assert.deepEqual(faults({ $or: ['data.a'] }), ['filter.$or[0]']);
    assert.deepEqual(faults({ 'data.a': { $not: 3 } }), ['filter.data.a.$not']);
    assert.deepEqual(faults({ 'data.a': { $elemMatch: 3 } }), ['filter.data.a.$elemMatch']);
  });

  it('refuses operators in the wrong place and values that look like operators', () => {
    assert.deepEqual(faults({ $lt: 3 }), ['filter.$lt']);
    assert.deepEqual(faults({ 'data.a': { $or: [{ b: 1 }] } }), ['filter.data.a.$or']);
    assert.deepEqual(faults({ 'data.a': { $lt: 3, b: 1 } }), ['filter.data.a']);
    assert.deepEqual(faults({ 'data.a': { $in: [{ $gt: 1 }] } }), ['filter.data.a.$in[0].$gt']);
    assert.deepEqual(faults({ 'data.a': { $eq: { b: { $ne: 1 } } } }), ['filter.data.a.$eq.b.$ne']);
  });

  it('refuses a filter that is not an object', () => {
    for (const value of [[], 'data.a', 3, true]) assert.deepEqual(faults(value), ['filter'], JSON.stringify(value));
  });

  it('bounds the size (FILTER_MAX_BYTES, in UTF-8 bytes) and the depth (FILTER_MAX_DEPTH)', () => {
    const big = { 'data.companies_id': { $in: Array.from({ length: 2000 }, (_, i) => i) } };
    const [size] = filterProblems(big, LIMITS);
    assert.equal(size!.field, 'filter');
    assert.match(size!.message, /bytes as JSON; the limit is 4096 \(FILTER_MAX_BYTES\)/);
    // 1,400 two-byte characters: 2,800 bytes but 1,400 UTF-16 units, over a 2,048-byte limit.
    assert.deepEqual(faults({ 'data.name': 'é'.repeat(1400) }, { maxBytes: 2048, maxDepth: 10 }), ['filter']);

    // Depth: the filter object is level 1, the operator object 2, $in's array 3.
    assert.deepEqual(faults({ 'data.a': { $in: [1] } }, { maxBytes: 4096, maxDepth: 3 }), []);
    const deep = filterProblems({ 'data.a': { $in: [[1]] } }, { maxBytes: 4096, maxDepth: 3 });
    assert.deepEqual(
      deep.map((p) => p.field),
      ['filter.data.a.$in[0]'],
    );
    assert.match(deep[0]!.message, /deeper than 3 levels .*FILTER_MAX_DEPTH/);
    let nested: Record<string, unknown> = { 'data.a': 1 };
    for (let i = 0; i < 12; i++) nested = { $or: [nested] };
    assert.equal(faults(nested).length, 1);
    assert.match(faults(nested)[0]!, /^filter(\.\$or\[0\])+/);
  });

  it('lists at most ten problems', () => {
    const filter = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`field${i}`, 1]));
    assert.equal(faults(filter).length, 10);
  });

  it('throws INVALID_FILTER with the problems as details', () => {
    assert.throws(
      () => assertValidFilter({ $or: [{ 'data.a': 1 }, { 'data.balance': { $where: '1' } }] }, LIMITS),
      (error: unknown) =>
        error instanceof DomainError &&
        error.code === 'INVALID_FILTER' &&
        error.statusCode === 400 &&
        error.details[0]!.field === 'filter.$or[1].data.balance.$where' &&
        error.message.includes('filter.$or[1].data.balance.$where'),
    );
  });
});

/** The handlers of these tests listen to clients.update unless they say otherwise. */
const handler = (overrides: Partial<HandlerEntity> & { id: number }) => handlerEntity({ event: 'clients.update', ...overrides });
const compiled: TesterOf = (h) => (h.filter === null ? null : compileFilter(h.filter));
const source = (dataJson: string, eventType = 'clients.update') => ({ eventType, objectId: 12, dt: '2026-11-22T10:15:30+00:00', dataJson });
const ids = (list: readonly HandlerEntity[]) => list.map((h) => h.id);

describe('HandlerIndex with payload filters', () => {
  it('keeps the handlers whose filter matches, in run order, and reports the others', () => {
    const index = new HandlerIndex(
      [
        handler({ id: 1, priority: 1 }),
        handler({ id: 2, priority: 2, filter: { 'data.companies_id': 3 } }),
        handler({ id: 3, priority: 3, filter: { 'data.balance': { $lt: 0 } } }),
        handler({ id: 4, priority: 4, event: 'clients.*', filter: { 'data.companies_id': { $in: [3, 4] } } }),
      ],
      compiled,
    );
    const left: number[] = [];
    const chosen = index.select('clients.update', 'after', source('{"id":12,"companies_id":3,"balance":10}'), (h) => left.push(h.id));
    assert.deepEqual(ids(chosen), [1, 2, 4]);
    assert.deepEqual(left, [3]);
    assert.deepEqual(ids(index.select('clients.update', 'after', source('{"id":12,"companies_id":5,"balance":-1}'))), [1, 3]);
    // The wildcard handler's filter applies on every event it covers.
    assert.deepEqual(ids(index.select('clients.create', 'after', source('{"id":12,"companies_id":4}', 'clients.create'))), [4]);
    assert.deepEqual(ids(index.select('clients.create', 'after', source('{"id":12,"companies_id":9}', 'clients.create'))), []);
    // lookup still answers every handler of the event, filters aside.
    assert.deepEqual(ids(index.lookup('clients.update')), [1, 2, 3, 4]);
  });

  it('parses the data only when a handler of the event has a filter, and then once', () => {
    let calls = 0;
    const counting: TesterOf = (h) => {
      const test = compiled(h);
      return test && ((envelope) => (calls++, test(envelope)));
    };
    const index = new HandlerIndex(
      [
        handler({ id: 1 }),
        handler({ id: 2, event: 'clients.create' }),
        handler({ id: 3, event: 'clients.create', filter: { 'data.a': 1 } }),
        handler({ id: 4, event: 'clients.create', filter: { 'data.a': 2 } }),
      ],
      counting,
    );
    // Invalid JSON would throw if it were parsed: the event's handlers have no filter, so it is not.
    const unfiltered = index.select('clients.update', 'after', source('not json'));
    assert.equal(unfiltered, index.lookup('clients.update'), 'without filters, select answers the cached list itself');
    const parse = JSON.parse;
    let parses = 0;
    JSON.parse = (...args: Parameters<typeof JSON.parse>) => (parses++, parse(...args));
    try {
      assert.deepEqual(ids(index.select('clients.create', 'after', source('{"a":2}', 'clients.create'))), [2, 4]);
    } finally {
      JSON.parse = parse;
    }
    assert.equal(parses, 1);
    assert.equal(calls, 2);
  });

  it('compiles each filter once per index and keeps the stage apart', () => {
    const seen: number[] = [];
    const index = new HandlerIndex(
      [handler({ id: 1, event: '*', filter: { 'data.a': 1 } }), handler({ id: 2, stage: 'before', filter: { 'data.a': 2 } })],
      (h) => (seen.push(h.id), compiled(h)),
    );
    assert.deepEqual(seen.sort(), [1, 2], 'a wildcard handler is compiled once, not once per event');
    assert.deepEqual(ids(index.select('clients.update', 'before', source('{"a":2}'))), [2]);
    assert.deepEqual(ids(index.select('clients.update', 'after', source('{"a":2}'))), []);
  });
});
