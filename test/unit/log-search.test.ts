import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesNothing, planSearch, searchPlans } from '../../src/execution-logs/log-search.js';
import { ERROR_KINDS } from '../../src/calls/call-result.js';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/app-config.js';
import { ConfigError } from '../../src/config/environment.js';

const sqlOf = (conditions: { sql: string }[]) => conditions.map((c) => c.sql);

describe('planSearch: which index a list walks', () => {
  it('walks the primary key without filters, and tests nothing on the rows', () => {
    assert.deepEqual(planSearch({}), { index: null, ranges: [[]], residual: [], timeBounds: [] });
  });

  it('walks the index of the one filter given, which answers it alone', () => {
    const cases: [Parameters<typeof planSearch>[0], string, string[]][] = [
      [{ eventId: 5 }, 'idx_logs_event', ['event_id = ?']],
      [{ objectId: 7 }, 'idx_logs_object', ['object_id = ?']],
      [{ handlerId: 2 }, 'idx_logs_handler', ['handler_id = ?']],
      [{ eventType: 'clients.update' }, 'idx_logs_events_id', ['events_id = ?']],
      [{ errorKind: 'timeout' }, 'idx_logs_outcome', ['status = ?', 'error_kind = ?']],
    ];
    for (const [filters, index, range] of cases) {
      const plan = planSearch(filters);
      assert.equal(plan.index, index, JSON.stringify(filters));
      assert.deepEqual(plan.ranges.map(sqlOf), [range]);
      assert.deepEqual(plan.residual, []);
    }
    // An error kind's range has its status: a failure, or skipped for `skipped`.
    assert.deepEqual(planSearch({ errorKind: 'timeout' }).ranges[0]!.flatMap((c) => c.params), ['fail', 'timeout']);
    assert.deepEqual(planSearch({ errorKind: 'skipped' }).ranges[0]!.flatMap((c) => c.params), ['skipped', 'skipped']);
    assert.deepEqual(planSearch({ status: 'fail', errorKind: 'dns' }).residual, [], 'the kind range answers the status too');
  });

  it('reads a status as the ranges of its error kinds, merged, plus rows without a kind', () => {
    const success = planSearch({ status: 'success' });
    assert.equal(success.index, 'idx_logs_outcome');
    assert.deepEqual(success.ranges.map(sqlOf), [['status = ?', 'error_kind IS NULL']]);
    const failed = planSearch({ status: 'fail' });
    const kinds = failed.ranges.map((range) => range[1]!.params[0] ?? null);
    assert.deepEqual(kinds, [...ERROR_KINDS.filter((kind) => kind !== 'skipped'), null]);
    assert.ok(failed.ranges.every((range) => range[0]!.params[0] === 'fail'));
    assert.deepEqual(planSearch({ status: 'skipped' }).ranges.map((range) => range.flatMap((c) => c.params)), [['skipped', 'skipped'], ['skipped']]);
  });

  it('walks the most selective filter and tests the others on each row (a search)', () => {
    const plan = planSearch({ handlerId: 2, status: 'fail', eventType: 'clients.update', objectId: 9 });
    assert.equal(plan.index, 'idx_logs_object');
    assert.deepEqual(sqlOf(plan.residual), ['status = ?', 'handler_id = ?', 'events_id = ?']);
    assert.equal(planSearch({ handlerId: 2, errorKind: 'tls' }).index, 'idx_logs_outcome', 'an error kind before a handler');
    assert.equal(planSearch({ handlerId: 2, status: 'skipped' }).index, 'idx_logs_outcome', 'skipped calls before a handler');
    assert.equal(planSearch({ handlerId: 2, status: 'fail' }).index, 'idx_logs_handler', 'a handler before failures');
    const text = planSearch({ errorText: '50%_off!' });
    assert.equal(text.index, null);
    assert.deepEqual(text.residual, [{ sql: "LOWER(error) LIKE ? ESCAPE '!'", params: ['%50!%!_off!!%'] }]);
  });

  it('offers every walk of a search, a status of failures or successes only when nothing else can be walked', () => {
    const indexes = (filters: Parameters<typeof searchPlans>[0]) => searchPlans(filters).map((plan) => plan.index);
    assert.deepEqual(indexes({ handlerId: 2, eventType: 'clients.update', status: 'fail' }), ['idx_logs_handler', 'idx_logs_events_id']);
    assert.deepEqual(indexes({ handlerId: 2, status: 'skipped' }), ['idx_logs_outcome', 'idx_logs_handler']);
    assert.deepEqual(indexes({ status: 'fail', errorText: 'x' }), ['idx_logs_outcome']);
    assert.deepEqual(indexes({ errorText: 'x' }), [null]);
    assert.deepEqual(indexes({}), [null]);
    for (const plan of searchPlans({ handlerId: 2, eventType: 'clients.update', status: 'fail' })) assert.equal(plan.residual.length, 2);
  });

  it('keeps the date range apart: exact tests of created_at, not a search', () => {
    const plan = planSearch({ handlerId: 1, from: 10, to: 20 });
    assert.deepEqual(plan.residual, []);
    assert.deepEqual(plan.timeBounds, [
      { sql: 'created_at >= ?', params: [10] },
      { sql: 'created_at <= ?', params: [20] },
    ]);
  });

  it('knows filters no row can match', () => {
    assert.equal(matchesNothing({ status: 'success', errorKind: 'timeout' }), true);
    assert.equal(matchesNothing({ status: 'success', errorText: 'x' }), true);
    assert.equal(matchesNothing({ status: 'skipped', errorKind: 'timeout' }), true);
    assert.equal(matchesNothing({ status: 'fail', errorKind: 'skipped' }), true);
    assert.equal(matchesNothing({ from: 2, to: 1 }), true);
    assert.equal(matchesNothing({ status: 'fail', errorKind: 'timeout', from: 1, to: 1 }), false);
    assert.equal(matchesNothing({ status: 'skipped', errorKind: 'skipped' }), false);
  });
});

describe('LOG_SEARCH_WINDOW_ROWS', () => {
  const base = { DATABASE_URL: 'sqlite::memory:' };
  it('defaults to 10,000 rows and takes 1,000 to 1,000,000', () => {
    assert.equal(loadConfig(base).logs.searchWindowRows, 10_000);
    assert.equal(loadConfig({ ...base, LOG_SEARCH_WINDOW_ROWS: '1000' }).logs.searchWindowRows, 1000);
    assert.equal(loadConfig({ ...base, LOG_SEARCH_WINDOW_ROWS: '1000000' }).logs.searchWindowRows, 1_000_000);
    for (const bad of ['999', '1000001', 'many', '1.5']) {
      assert.throws(() => loadConfig({ ...base, LOG_SEARCH_WINDOW_ROWS: bad }), (error: unknown) => error instanceof ConfigError && /LOG_SEARCH_WINDOW_ROWS/.test(error.message), bad);
    }
  });
});

describe('docs/errors.md and ERROR_KINDS', () => {
  it('list the same error kinds', () => {
    const text = readFileSync('docs/errors.md', 'utf8');
    const section = text.slice(text.indexOf('## Error kinds of the execution logs'));
    const documented = [...section.matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|\s*(fail|skipped)\s*\|/gm)].map((match) => match[1]);
    assert.deepEqual([...documented].sort(), [...ERROR_KINDS].sort());
  });
});
