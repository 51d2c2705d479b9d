import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { countRows } from '../utils/test-app.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { ExecutionLogRecord, LogStatus } from '../../src/execution-logs/execution-log.js';

interface LogPage {
  items: { id: number; handler_id: number; status: string; event: string; date: string }[];
  next_cursor: string | null;
  has_more: boolean;
  count?: { value: number; exact: boolean };
  total?: number;
}

const STATUSES: LogStatus[] = ['success', 'fail', 'skipped'];
const EVENTS = ['clients.update', 'clients.create'];
const T0 = Date.parse('2026-11-01T00:00:00Z');

/** A log row; the n-th row of a seed varies handler (1..3), status (with an error when failed), event and time. */
function record(n: number, overrides: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return logRecord({
    eventId: 1 + (n % 4),
    eventType: EVENTS[n % 2]!,
    handlerId: 1 + (n % 3),
    handlerName: `handler ${1 + (n % 3)}`,
    objectId: 1000 + n,
    status: STATUSES[Math.floor(n / 3) % 3]!,
    error: Math.floor(n / 3) % 3 === 1 ? `connect ECONNREFUSED row ${n}` : null,
    durationMs: 5,
    createdAt: T0 + n * 60_000,
    ...overrides,
  });
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

forEachDatabase('execution logs: cursor pagination', {}, (t) => {
  let admin: Record<string, string>;
  let logs: ExecutionLogsService;
  let dataSource: DataSource;

  before(async () => {
    admin = t.admin;
    logs = t.app.get(ExecutionLogsService);
    dataSource = t.app.get(DataSource);
    // 120 rows, in batches as the dispatcher writes them.
    for (let n = 0; n < 120; n += 40) await logs.insert(Array.from({ length: 40 }, (_, i) => record(n + i)));
  });

  const get = async (path: string, query: string) => {
    const response = await t.http.get(`${path}${query ? `?${query}` : ''}`).set(admin);
    assert.equal(response.status, 200, `${path}?${query}: ${JSON.stringify(response.body)}`);
    return response.body as LogPage;
  };
  const list = (query = '') => get('/api/v1/execution-logs', query);
  /** Every page of a list, following next_cursor; returns the pages. */
  const walk = async (query: string, between?: () => Promise<void>, path = '/api/v1/execution-logs') => {
    const pages: LogPage[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(path, [query, cursor === null ? '' : `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join('&'));
      pages.push(page);
      cursor = page.next_cursor;
      assert.equal(page.has_more, cursor !== null, 'has_more says whether there is a next cursor');
      if (between) await between();
    } while (cursor !== null);
    return pages;
  };
  const ids = (pages: LogPage[]) => pages.flatMap((page) => page.items.map((item) => item.id));
  const idsInDb = async (where = '1 = 1', params: unknown[] = []) =>
    ((await dataSource.query(`SELECT id FROM execution_logs WHERE ${where} ORDER BY id DESC`, params)) as { id: unknown }[]).map((row) => Number(row.id));
  const rowCount = () => countRows(t, 'execution_logs');
  const refused = async (query: string, code: string, field: string, path = '/api/v1/execution-logs') => {
    const before = await rowCount();
    const response = await t.http.get(`${path}?${query}`).set(admin);
    assert.equal(response.status, 400, `${query}: ${response.status} ${JSON.stringify(response.body)}`);
    assert.deepEqual(Object.keys(response.body).sort(), ['code', 'details', 'message', 'statusCode'], query);
    assert.equal(response.body.code, code, `${query}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.statusCode, 400);
    assert.ok(
      (response.body.details as { field: string }[]).some((problem) => problem.field === field),
      `${query}: details name ${field}: ${JSON.stringify(response.body.details)}`,
    );
    assert.equal(await rowCount(), before, 'a refused request changes nothing');
  };

  it('gives the first, a middle and the last page, newest first, with has_more and next_cursor', async () => {
    const all = await idsInDb();
    assert.equal(all.length, 120);
    const first = await list('limit=50');
    assert.deepEqual(first.items.map((item) => item.id), all.slice(0, 50));
    assert.equal(first.has_more, true);
    assert.equal(typeof first.next_cursor, 'string');
    assert.equal(first.total, undefined, 'no total without the deprecated page/per_page');
    assert.equal(first.count, undefined, 'no count unless asked');
    const middle = await list(`limit=50&cursor=${first.next_cursor}`);
    assert.deepEqual(middle.items.map((item) => item.id), all.slice(50, 100));
    assert.equal(middle.has_more, true);
    const last = await list(`limit=50&cursor=${middle.next_cursor}`);
    assert.deepEqual(last.items.map((item) => item.id), all.slice(100));
    assert.equal(last.has_more, false);
    assert.equal(last.next_cursor, null);

    // Default limit 50; a last page that is exactly full still says there is nothing after it.
    assert.equal((await list()).items.length, 50);
    const pages = await walk('limit=40');
    assert.deepEqual(pages.map((page) => page.items.length), [40, 40, 40]);
    assert.equal(pages[2]!.has_more, false);
    assert.deepEqual(ids(pages), all);
    const one = await list('limit=120');
    assert.equal(one.items.length, 120);
    assert.deepEqual([one.has_more, one.next_cursor], [false, null]);
    const single = await walk('limit=1');
    assert.equal(single.length, 120);
    assert.deepEqual(ids(single), all);
    const none = await list('handler_id=999');
    assert.deepEqual(none, { items: [], next_cursor: null, has_more: false });
  });

  it('shows every row exactly once while new rows are inserted during the walk', async () => {
    let inserting = true;
    let inserted = 0;
    const writer = (async () => {
      while (inserting) {
        await logs.insert([record(500 + inserted), record(501 + inserted)]);
        inserted += 2;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    let headAtStart = 0;
    try {
      const pages = await walk('limit=7', async () => {
        // Between pages too, so that the walk certainly interleaves with writes.
        await logs.insert([record(900 + inserted)]);
        inserted += 1;
      });
      headAtStart = pages[0]!.items[0]!.id;
      const walked = ids(pages);
      assert.equal(new Set(walked).size, walked.length, 'no row shown twice');
      assert.deepEqual(walked, [...walked].sort((a, b) => b - a), 'newest first');
      assert.deepEqual(walked, await idsInDb('id <= ?', [headAtStart]), 'every row that existed when the walk began, none skipped');
    } finally {
      inserting = false;
      await writer;
    }
    assert.ok(inserted > pagesNeeded(120, 7), `rows were inserted during the walk (${inserted})`);
    const newRows = await idsInDb('id > ?', [headAtStart]);
    assert.ok(newRows.length > 0);
    const head = await list(`limit=${newRows.length}`);
    assert.deepEqual(head.items.map((item) => item.id), newRows, 'new rows appear at the head');
  });

  it('pages with the filters, on both routes, and refuses a cursor sent with other filters', async () => {
    const cases: [string, string, unknown[], string?][] = [
      ['handler_id=2&status=fail', 'handler_id = ? AND status = ?', [2, 'fail']],
      [`event=${EVENTS[1]}`, 'events_id = ?', [EVENTS[1]]],
      ['event_id=3', 'event_id = ?', [3]],
      ['status=skipped', 'status = ?', ['skipped']],
      ['error=econnrefused', 'error IS NOT NULL', []],
      [
        `from=${encodeURIComponent(new Date(T0 + 30 * 60_000).toISOString())}&to=${encodeURIComponent(new Date(T0 + 90 * 60_000).toISOString())}`,
        'created_at >= ? AND created_at <= ?',
        [T0 + 30 * 60_000, T0 + 90 * 60_000],
      ],
      ['status=fail', 'handler_id = ? AND status = ?', [3, 'fail'], '/api/v1/handlers/3/execution-logs'],
    ];
    for (const [query, where, params, path] of cases) {
      const expected = await idsInDb(where, params);
      assert.ok(expected.length > 5, `${query} matches several pages`);
      const pages = await walk(`limit=5&${query}`, undefined, path);
      assert.deepEqual(ids(pages), expected, `${path ?? ''} ${query}`);
    }

    const first = await list('limit=5&handler_id=2');
    await refused(`limit=5&handler_id=3&cursor=${first.next_cursor}`, 'INVALID_CURSOR', 'cursor');
    await refused(`limit=5&cursor=${first.next_cursor}`, 'INVALID_CURSOR', 'cursor');
    await refused(`limit=5&handler_id=2&status=fail&cursor=${first.next_cursor}`, 'INVALID_CURSOR', 'cursor');
    // The same filters through the handler's route are the same list; the limit may change between pages.
    const next = await get('/api/v1/handlers/2/execution-logs', `limit=3&cursor=${first.next_cursor}`);
    assert.deepEqual(next.items.map((item) => item.id), (await idsInDb('handler_id = ?', [2])).slice(5, 8));
    // A date filter is the same filter however it is written.
    const byDay = await list('limit=5&from=2026-11-01');
    assert.equal((await list(`limit=5&from=${encodeURIComponent('2026-11-01T00:00:00Z')}&cursor=${byDay.next_cursor}`)).items.length, 5);
  });

  it('refuses a bad cursor with 400 INVALID_CURSOR and changes nothing', async () => {
    const valid = (await list('limit=5')).next_cursor!;
    const payload = Buffer.from(valid, 'base64url').toString('utf8');
    const [, id, check] = payload.split(':');
    const flipped = valid.slice(0, -3) + (valid.at(-3) === 'A' ? 'B' : 'A') + valid.slice(-2);
    const bad: [string, string][] = [
      ['garbage', '!!!not-a-cursor!!!'],
      ['base64 of nothing useful', base64url('hello')],
      ['one character changed', flipped],
      ['other id, same check', base64url(`v1:${Number(id) - 1}:${check}`)],
      ['negative id', base64url(`v1:-5:${check}`)],
      ['zero id', base64url(`v1:0:${check}`)],
      ['id with a leading zero', base64url(`v1:0${id}:${check}`)],
      ['huge id', base64url(`v1:99999999999999999999:${check}`)],
      ['id beyond 2^53', base64url(`v1:9007199254740993:${check}`)],
      ['fractional id', base64url(`v1:${id}.5:${check}`)],
      ['wrong version', base64url(`v2:${id}:${check}`)],
      ['no version', base64url(`${id}:${check}`)],
      ['JSON', base64url(JSON.stringify({ id: Number(id) }))],
      ['padded', `${valid}==`],
      ['standard base64 alphabet', Buffer.from(payload).toString('base64').replace(/=+$/, '') + '+/'],
      ['empty', ''],
      ['very long', 'A'.repeat(5000)],
      ['control characters', base64url(`v1:${id}:${check}\n`)],
    ];
    for (const [what, cursor] of bad) {
      await refused(`limit=5&cursor=${encodeURIComponent(cursor)}`, 'INVALID_CURSOR', 'cursor').catch((error: Error) => {
        throw new Error(`${what}: ${error.message}`);
      });
    }
    await refused(`cursor=${encodeURIComponent(flipped)}`, 'INVALID_CURSOR', 'cursor', '/api/v1/handlers/1/execution-logs');
    await refused(`cursor=${valid}&cursor=${valid}`, 'VALIDATION_FAILED', 'cursor');
    await refused(`cursor=${valid}&page=2`, 'VALIDATION_FAILED', 'page');
    await refused(`limit=5&per_page=5`, 'VALIDATION_FAILED', 'per_page');
    await refused(`limit=5&page=2`, 'VALIDATION_FAILED', 'page');
  });

  it('takes a limit from 1 to 500 in decimal digits', async () => {
    for (const limit of ['0', '501', '-1', '1.5', '1e2', '0x10', '050', ' 5', 'ten', '9007199254740993']) {
      await refused(`limit=${encodeURIComponent(limit)}`, 'VALIDATION_FAILED', 'limit');
    }
    assert.equal((await list('limit=1')).items.length, 1);
    assert.equal((await list('limit=500')).items.length, await rowCount());
  });

  it('counts only on request, labelled exact or a lower bound', async () => {
    const total = await rowCount();
    const first = await list('limit=10&count=true');
    assert.deepEqual(first.count, { value: total, exact: true });
    const second = await list(`limit=10&count=true&cursor=${first.next_cursor}`);
    assert.deepEqual(second.count, { value: total, exact: true }, 'the count is of the whole list, on every page');
    assert.deepEqual((await list('limit=10&count=true&handler_id=1&status=success')).count, {
      value: (await idsInDb('handler_id = ? AND status = ?', [1, 'success'])).length,
      exact: true,
    });
    assert.equal((await list('limit=10&count=false')).count, undefined);
    await refused('count=yes', 'VALIDATION_FAILED', 'count');
    await refused('count=1', 'VALIDATION_FAILED', 'count');

    const limits = { ...logs.countLimits };
    try {
      logs.countLimits.rows = 25;
      assert.deepEqual((await list('limit=10&count=true')).count, { value: 25, exact: false }, 'stopped at the cap: at least 25');
      assert.deepEqual((await list('limit=10&count=true&handler_id=999')).count, { value: 0, exact: true });
      if (t.kind.name === 'mysql') {
        // MariaDB stops the count at max_statement_time; whether 1 µs is reached varies, but the answer is honest either way.
        logs.countLimits.rows = 100_000;
        logs.countLimits.seconds = 0.000001;
        const count = (await list('limit=10&count=true')).count!;
        if (count.exact) assert.equal(count.value, total);
        else assert.ok(count.value >= 10 && count.value <= total, JSON.stringify(count));
      }
    } finally {
      Object.assign(logs.countLimits, limits);
    }
  });

  it('still answers the deprecated page/per_page with an exact total', async () => {
    const total = await rowCount();
    const all = await idsInDb();
    const page = await list('page=2&per_page=10');
    assert.deepEqual(page.items.map((item) => item.id), all.slice(10, 20));
    assert.equal(page.total, total);
    assert.equal(page.has_more, true);
    // Its next_cursor continues where the page ended.
    const next = await list(`limit=10&cursor=${page.next_cursor}`);
    assert.deepEqual(next.items.map((item) => item.id), all.slice(20, 30));
  });
});

function pagesNeeded(rows: number, limit: number): number {
  return Math.ceil(rows / limit);
}
