import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { postHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import type { Received, TestReceiver } from '../utils/receiver.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { LogDates } from '../../src/execution-logs/log-dates.js';
import { ExecutionLogRecord, LOG_COLUMNS, logValues, LogStatus } from '../../src/execution-logs/execution-log.js';
import { ErrorKind } from '../../src/calls/call-result.js';
import { placeholders } from '../../src/database/sql.js';

interface Item {
  id: number;
  status: string;
  error: string | null;
  error_kind: string | null;
  handler_id: number;
  event_id: number | null;
  date: string;
}
interface LogPage {
  items: Item[];
  next_cursor: string | null;
  has_more: boolean;
  count?: { value: number; exact: boolean };
  search_window?: { rows: number; searched_back_to: string };
}

const MINUTE = 60_000;
const T0 = Date.parse('2026-10-01T00:00:00Z');
const EVENTS = ['clients.update', 'clients.create', 'accounts.update', 'dids.assign'];
const FAILURES: ErrorKind[] = ['timeout', 'http_5xx', 'connection_refused', 'dns', 'tls', 'http_4xx', 'other'];
const ROWS = 420;

/** The n-th seeded row: every filter varies, its time grows with n (as ids do). */
function seeded(n: number): ExecutionLogRecord {
  const status: LogStatus = n % 10 === 3 ? 'skipped' : [1, 5, 7].includes(n % 10) ? 'fail' : 'success';
  const kind: ErrorKind | null = status === 'skipped' ? 'skipped' : status === 'fail' ? FAILURES[n % FAILURES.length]! : null;
  const needle = status !== 'success' && n % 3 === 0;
  return logRecord({
    eventId: 1 + (n % 37),
    eventType: EVENTS[n % EVENTS.length]!,
    handlerId: 1 + (n % 5),
    handlerName: `handler ${1 + (n % 5)}`,
    objectId: 500 + (n % 23),
    status,
    errorKind: kind,
    error: kind === null ? null : `${kind} at row ${n}${needle ? ' (NeedLE_%)' : ''}`,
    createdAt: T0 + n * MINUTE,
  });
}

forEachDatabase('execution logs: every filter through its index, searches in a bounded window', {}, (t) => {
  let logs: ExecutionLogsService;
  let dataSource: DataSource;

  before(async () => {
    logs = t.app.get(ExecutionLogsService);
    dataSource = t.app.get(DataSource);
    for (let n = 0; n < ROWS; n += 60) await logs.insert(Array.from({ length: 60 }, (_, i) => seeded(n + i)));
    // Rows an instance of the earlier version wrote during an upgrade: failed or skipped, without an error kind.
    const legacy = [
      { ...seeded(ROWS), status: 'fail' as const, error: 'receiver answered 500 (written before error kinds)' },
      { ...seeded(ROWS + 1), status: 'skipped' as const, error: 'handler is disabled' },
    ];
    const values = legacy.flatMap((record) => [...logValues(record).slice(0, -1), null]);
    await dataSource.query(`INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES ${placeholders(legacy.length, LOG_COLUMNS.length)}`, values);
  });

  const get = async (path: string, query: string) => {
    const response = await t.http.get(`${path}?${query}`).set(t.admin);
    assert.equal(response.status, 200, `${path}?${query}: ${JSON.stringify(response.body)}`);
    return response.body as LogPage;
  };
  const walk = async (query: string, path = '/api/v1/execution-logs') => {
    const pages: LogPage[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(path, [query, cursor === null ? '' : `cursor=${encodeURIComponent(cursor)}`].filter(Boolean).join('&'));
      pages.push(page);
      assert.equal(page.has_more, page.next_cursor !== null);
      cursor = page.next_cursor;
      assert.ok(pages.length < 500, 'the walk ends');
    } while (cursor !== null);
    return pages;
  };
  const idsOf = (pages: LogPage[]) => pages.flatMap((page) => page.items.map((item) => item.id));
  const idsWhere = async (where: string, params: unknown[] = []) =>
    ((await dataSource.query(`SELECT id FROM execution_logs WHERE ${where} ORDER BY id DESC`, params)) as { id: unknown }[]).map((row) => Number(row.id));
  const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());

  const CASES: [string, string, unknown[], string?][] = [
    ['handler_id=2', 'handler_id = ?', [2]],
    ['event=clients.create', 'events_id = ?', ['clients.create']],
    ['event_id=5', 'event_id = ?', [5]],
    ['object_id=510', 'object_id = ?', [510]],
    ['status=success', 'status = ?', ['success']],
    ['status=fail', 'status = ?', ['fail']],
    ['status=skipped', 'status = ?', ['skipped']],
    ['error_kind=timeout', 'error_kind = ?', ['timeout']],
    ['error_kind=skipped', 'error_kind = ?', ['skipped']],
    ['error_kind=tls', 'error_kind = ?', ['tls']],
    ['status=fail&error_kind=other', "status = 'fail' AND error_kind = ?", ['other']],
    ['error=needle_%25', "LOWER(error) LIKE '%needle!_!%%' ESCAPE '!'", []],
    [`from=${iso(T0 + 100 * MINUTE)}&to=${iso(T0 + 160 * MINUTE)}`, 'created_at >= ? AND created_at <= ?', [T0 + 100 * MINUTE, T0 + 160 * MINUTE]],
    [`from=${iso(T0)}&to=${iso(T0 + 30 * MINUTE)}`, 'created_at >= ? AND created_at <= ?', [T0, T0 + 30 * MINUTE]],
    [`from=${iso(T0 + 300 * MINUTE + 30_000)}`, 'created_at >= ?', [T0 + 300 * MINUTE + 30_000]],
    [`to=${iso(T0 + 50 * MINUTE)}`, 'created_at <= ?', [T0 + 50 * MINUTE]],
    ['handler_id=2&status=fail', 'handler_id = ? AND status = ?', [2, 'fail']],
    ['event=clients.create&error_kind=http_5xx', 'events_id = ? AND error_kind = ?', ['clients.create', 'http_5xx']],
    ['object_id=510&handler_id=3', 'object_id = ? AND handler_id = ?', [510, 3]],
    [`handler_id=4&from=${iso(T0 + 40 * MINUTE)}&to=${iso(T0 + 140 * MINUTE)}`, 'handler_id = ? AND created_at >= ? AND created_at <= ?', [4, T0 + 40 * MINUTE, T0 + 140 * MINUTE]],
    [`status=fail&from=${iso(T0 + 40 * MINUTE)}&to=${iso(T0 + 400 * MINUTE)}`, 'status = ? AND created_at >= ? AND created_at <= ?', ['fail', T0 + 40 * MINUTE, T0 + 400 * MINUTE]],
    ['error=needle&status=skipped', "LOWER(error) LIKE '%needle%' AND status = ?", ['skipped']],
    ['status=fail', 'handler_id = ? AND status = ?', [3, 'fail'], '/api/v1/handlers/3/execution-logs'],
  ];

  it('answers every filter, alone and combined, exactly as SQL does, page by page, with its count', async () => {
    for (const [query, where, params, path] of CASES) {
      const expected = await idsWhere(where, params);
      assert.ok(expected.length >= 3, `${query} matches a few rows (${expected.length})`);
      assert.deepEqual(idsOf(await walk(`limit=7&${query}`, path)), expected, `${path ?? ''} ${query}, pages of 7`);
      const one = await get(path ?? '/api/v1/execution-logs', `limit=500&count=true&${query}`);
      assert.deepEqual(one.items.map((item) => item.id), expected, `${query}, one page`);
      assert.deepEqual(one.count, { value: expected.length, exact: true }, `${query}: count`);
    }
    // The rows written without a kind during an upgrade are failures and skipped calls all the same; they have no kind to filter by.
    const legacy = await idsWhere('error_kind IS NULL AND status <> ?', ['success']);
    assert.equal(legacy.length, 2);
    const byStatus = [...idsOf(await walk('status=fail')), ...idsOf(await walk('status=skipped'))];
    for (const id of legacy) assert.ok(byStatus.includes(id), `row ${id} found by its status`);
    // Filters no row can match answer at once.
    for (const query of ['status=success&error_kind=timeout', 'status=fail&error_kind=skipped', 'status=success&error=x']) {
      assert.deepEqual(await get('/api/v1/execution-logs', `count=true&${query}`), { items: [], next_cursor: null, has_more: false, count: { value: 0, exact: true } }, query);
    }
  });

  it('shows each row with its error kind', async () => {
    const page = await get('/api/v1/execution-logs', 'limit=500');
    const rows: { id: unknown; error_kind: string | null }[] = await dataSource.query('SELECT id, error_kind FROM execution_logs');
    const kinds = new Map(rows.map((row) => [Number(row.id), row.error_kind]));
    for (const item of page.items) assert.equal(item.error_kind, kinds.get(item.id), `row ${item.id}`);
    assert.ok(page.items.some((item) => item.error_kind === 'tls') && page.items.some((item) => item.error_kind === null));
  });

  it('refuses an unknown error kind or object id with 400 VALIDATION_FAILED', async () => {
    for (const query of ['error_kind=slow', 'error_kind=', 'object_id=0', 'object_id=x', 'object_id=1.5']) {
      const response = await t.http.get(`/api/v1/execution-logs?${query}`).set(t.admin);
      assert.equal(response.status, 400, query);
      assert.equal(response.body.code, 'VALIDATION_FAILED', query);
    }
  });

  it('finds a row by its time although it was written up to the margin later than newer rows', async () => {
    // Ids follow the order of writing; a row is written late when its outcome waited for the
    // database (up to the lease, plus a statement's timeout). Newer rows first, then the late one.
    const base = T0 + 2000 * MINUTE;
    const newer = Array.from({ length: 5 }, (_, i) => logRecord({ handlerId: 9, createdAt: base + 10_000 + i * 15_000 }));
    await logs.insert(newer);
    const lateId = await logs.insert([logRecord({ handlerId: 9, createdAt: base })]);
    // The late row is the earliest in time of the range and the newest by id: reading the range as
    // "from the first id at or after `from` to the last id at or before `to`" would find neither row.
    const query = `from=${iso(base - 1000)}&to=${iso(base + 12_000)}`;
    const expected = await idsWhere('created_at >= ? AND created_at <= ?', [base - 1000, base + 12_000]);
    assert.deepEqual(expected, [lateId, await idsWhere('created_at = ?', [base + 10_000]).then((ids) => ids[0])]);
    assert.deepEqual(idsOf(await walk(query)), expected);
    assert.deepEqual(idsOf(await walk(`handler_id=9&${query}`)), expected);
    assert.deepEqual(idsOf(await walk(`limit=1&${query}`)), expected);
    // The margin is the lease, the query timeout and a minute for clocks: 100 s here.
    assert.equal(t.config.dispatch.leaseMs + t.config.databaseTimeouts.queryMs + 60_000, 100_000);
  });

  it('searches error text within a window of rows per page, and goes on below it page by page', async () => {
    const original = logs.searchWindowRows;
    // A window of 25 rows (LOG_SEARCH_WINDOW_ROWS takes 1,000 or more) makes the few hundred rows here many windows.
    logs.searchWindowRows = 25;
    try {
      // The newest 30 calls succeeded: the first window has nothing to find.
      await logs.insert(Array.from({ length: 30 }, (_, i) => logRecord({ createdAt: T0 + 3000 * MINUTE + i })));
      const newest = (await idsWhere('1 = 1'))[0]!;
      const expected = await idsWhere("LOWER(error) LIKE '%needle%'");
      const pages = await walk('limit=5&error=needle');
      assert.deepEqual(idsOf(pages), expected, 'every match, in order, across the windows');
      let high = newest;
      let windows = 0;
      for (const page of pages) {
        // The page looked at no more than the 25 ids below where it started.
        for (const item of page.items) assert.ok(item.id <= high && item.id > high - 25, `row ${item.id} within the window ending at ${high}`);
        if (page.search_window) {
          windows++;
          assert.equal(page.search_window.rows, 25);
          assert.ok(page.items.length < 5, 'only a page that is not full says it ended at its window');
          assert.equal(page.has_more, true);
          const [oldest] = await dataSource.query('SELECT created_at FROM execution_logs WHERE id >= ? ORDER BY id LIMIT 1', [high - 24]);
          assert.equal(page.search_window.searched_back_to, new Date(Number(oldest.created_at)).toISOString());
        }
        if (page.next_cursor) high = Number(Buffer.from(page.next_cursor, 'base64url').toString('latin1').split(':')[1]) - 1;
      }
      assert.ok(windows > 5, `the search ran through several windows (${windows})`);
      assert.ok(pages.some((page) => page.search_window && page.items.length === 0), 'a window with no match answers an empty page that goes on');

      // On an index, the window is of that index's entries: 25 rows of handler 2 per page.
      const handler2 = await idsWhere('handler_id = ?', [2]);
      const expected2 = await idsWhere("handler_id = ? AND LOWER(error) LIKE '%needle%'", [2]);
      const pages2 = await walk('limit=5&handler_id=2&error=needle');
      assert.deepEqual(idsOf(pages2), expected2);
      let from = 0;
      for (const page of pages2) {
        const window = handler2.slice(from, from + 25);
        for (const item of page.items) assert.ok(window.includes(item.id), `row ${item.id} among the 25 handler rows examined`);
        if (page.search_window) from += 25;
        else if (page.next_cursor) from = handler2.indexOf(page.items.at(-1)!.id) + 1;
      }
      // Of two walks, the one whose window reaches further back is read: here all 4 rows of a rare event
      // type (fewer than the window), not the last 25 of the handler's hundred.
      await logs.insert([2, 3, 2, 2, 3].map((handlerId, i) => logRecord({ handlerId, eventType: 'dids.block', createdAt: T0 + 3100 * MINUTE + i })));
      const rare = await idsWhere('handler_id = ? AND events_id = ?', [2, 'dids.block']);
      assert.equal(rare.length, 3);
      const both = await get('/api/v1/execution-logs', 'limit=5&handler_id=2&event=dids.block');
      assert.deepEqual([both.items.map((item) => item.id), both.has_more, both.search_window], [rare, false, undefined]);

      // The count of a search stops at its own window of rows (countLimits.rows), labelled a lower bound.
      const limits = { ...logs.countLimits };
      logs.countLimits.rows = 50;
      try {
        const count = (await get('/api/v1/execution-logs', 'count=true&error=needle')).count!;
        assert.equal(count.exact, false);
        const top = (await idsWhere('1 = 1'))[0]!;
        assert.equal(count.value, (await idsWhere("LOWER(error) LIKE '%needle%' AND id > ?", [top - 50])).length);
      } finally {
        Object.assign(logs.countLimits, limits);
      }
    } finally {
      logs.searchWindowRows = original;
    }
    // With the default window (10,000 rows) the same search needs no window at all here.
    const page = await get('/api/v1/execution-logs', 'limit=500&error=needle');
    assert.equal(page.search_window, undefined);
    assert.equal(page.has_more, false);
  });
  it('finds a date range whose edges fall in another day, an empty day or past the last row, as SQL does', async () => {
    // Last of the suite: these rows are dated after every other row, as rows written last are.
    // On MySQL/MariaDB each of these days has its own partition (the migration prepares the coming
    // week), so the search for an edge runs in the day that holds it and, when that day has no row
    // on the wanted side, goes on in the days before or after (LogDates.idBound, src/execution-logs/log-dates.ts).
    const DAY = 86_400_000;
    const day1 = Math.floor(Date.now() / DAY) * DAY + DAY;
    const day3 = day1 + 2 * DAY; // day 2 has no rows
    await logs.insert(Array.from({ length: 30 }, (_, i) => logRecord({ handlerId: 11, createdAt: day1 + 8 * 60 * MINUTE + i * 10 * MINUTE })));
    await logs.insert(Array.from({ length: 30 }, (_, i) => logRecord({ handlerId: 11, createdAt: day3 + i * MINUTE })));
    const ranges: [number | null, number | null][] = [
      [day3, day3 + 10 * MINUTE], // `from` less the margin falls in the empty day
      [day1 + 8 * 60 * MINUTE + 5 * MINUTE, day3 + 30_000], // across the empty day
      [day1 - 30_000, day1 + 9 * 60 * MINUTE], // `from` in the day before, which has no such rows
      [day3 + 20 * MINUTE, day3 + DAY - 1], // `to` past the last row
      [day1 + DAY, null], // from the empty day on
      [null, day1 + 8 * 60 * MINUTE], // up to the first row of day 1
      [day1 + DAY + 1000, day1 + 2 * DAY - 1000], // within the empty day: nothing
    ];
    for (const [from, to] of ranges) {
      const query = [from === null ? '' : `from=${iso(from)}`, to === null ? '' : `to=${iso(to)}`].filter(Boolean).join('&');
      const where = [from === null ? '' : 'created_at >= ?', to === null ? '' : 'created_at <= ?'].filter(Boolean).join(' AND ');
      const params = [from, to].filter((bound) => bound !== null);
      const expected = await idsWhere(`handler_id = 11 AND ${where}`, params);
      // Every range but the one within the empty day holds some of these rows.
      assert.equal(expected.length === 0, from === day1 + DAY + 1000, query);
      assert.deepEqual(idsOf(await walk(`handler_id=11&${query}`)), expected, query);
      assert.deepEqual(idsOf(await walk(query)), await idsWhere(where, params), query);
      // The walk is bounded: the id range holds no row dated beyond the margin of either edge
      // (a search that found no edge in the day that holds it would give the whole table).
      const { low, high } = await t.app.get(LogDates).idsDated({ from: from ?? undefined, to: to ?? undefined });
      const late = 100_000;
      const [outside] = await dataSource.query('SELECT COUNT(*) AS n FROM execution_logs WHERE id >= ? AND id <= ? AND (created_at < ? OR created_at > ?)', [
        low,
        high,
        (from ?? 0) - late,
        (to ?? Number.MAX_SAFE_INTEGER) + late,
      ]);
      assert.equal(Number(outside.n), 0, `${query}: ids ${low} to ${high}`);
    }
  });
});

forEachDatabase('execution logs: error kinds and payloads of real calls', { env: { RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let dataSource: DataSource;
  let objectId = 7000;
  before(() => {
    dataSource = t.app.get(DataSource);
  });

  const handler = (body: Record<string, unknown>) => postHandler(t, { name: `h${Math.random().toString(36).slice(2, 8)}`, type: 'http', priority: 10, retry_limit: 0, ...body });
  const detail = async (id: number) => {
    const response = await t.http.get(`/api/v1/execution-logs/${id}`).set(t.admin);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body as Item & { request_payload: string | null; request_payload_source: string };
  };
  const logsOf = async (query: string) => (await t.http.get(`/api/v1/execution-logs?limit=500&${query}`).set(t.admin)).body.items as Item[];
  const freePort = () =>
    new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });

  it('stores the kind of each failure, as the call ended, and filters by it', async () => {
    const event = 'clients.accounts.update';
    const answering = (status: number, headers: Record<string, string> = {}) => t.receiver(() => ({ status, headers, body: 'no' }));
    const r503 = await answering(503);
    const r404 = await answering(404);
    const r302 = await answering(302, { location: '/elsewhere' });
    const slow = await t.receiver(() => ({ status: 200, delayMs: 3000 }));
    const plain = await t.receiver();
    const ok = await t.receiver();
    const expected: [string, Record<string, unknown>][] = [
      ['http_5xx', { task: r503.task() }],
      ['http_4xx', { task: r404.task() }],
      ['redirect', { task: r302.task() }],
      ['timeout', { task: slow.task(), timeout_ms: 200 }],
      ['connection_refused', { task: `127.0.0.1:${await freePort()}/hook` }],
      ['dns', { task: 'nothing-here.invalid/hook' }],
      ['tls', { type: 'https', task: `https://127.0.0.1:${plain.port}/hook` }],
      ['success', { task: ok.task() }],
    ];
    const handlers = new Map<number, string>();
    for (const [kind, body] of expected) handlers.set((await handler({ event, ...body })).id, kind);
    const id = ++objectId;
    const accepted = await postEvent(t, { event, object_id: id, data: { id } });
    const state = await waitUntilSettled(t, accepted.id, { timeoutMs: 30_000 });
    assert.equal(state.deliveries.length, expected.length);
    const rows = await logsOf(`event_id=${accepted.id}`);
    assert.equal(rows.length, expected.length);
    for (const row of rows) {
      const kind = handlers.get(row.handler_id)!;
      assert.equal(row.error_kind, kind === 'success' ? null : kind, `handler of ${kind}: ${row.error}`);
      assert.equal(row.status, kind === 'success' ? 'success' : 'fail');
    }

    // A delivery whose handler is disabled while it waits (behind a slow first handler of its event) is skipped.
    const waiting = 'clients.accounts.delete';
    const first = await handler({ event: waiting, priority: 1, task: slow.task(), timeout_ms: 1000 });
    const second = await handler({ event: waiting, priority: 2, task: ok.task() });
    const queued = await postEvent(t, { event: waiting, object_id: ++objectId, data: { id: objectId } });
    assert.equal((await t.http.post(`/api/v1/handlers/${second.id}/toggle`).set(t.admin)).status, 200);
    await waitUntilSettled(t, queued.id);
    const skipped = await logsOf(`event_id=${queued.id}`);
    assert.deepEqual(skipped.map((row) => [row.handler_id, row.status, row.error_kind]), [
      [second.id, 'skipped', 'skipped'],
      [first.id, 'fail', 'timeout'],
    ]);

    for (const kind of ['http_5xx', 'http_4xx', 'redirect', 'timeout', 'connection_refused', 'dns', 'tls', 'skipped']) {
      const expectedIds = ((await dataSource.query('SELECT id FROM execution_logs WHERE error_kind = ? ORDER BY id DESC', [kind])) as { id: unknown }[]).map((row) => Number(row.id));
      assert.ok(expectedIds.length > 0, kind);
      assert.deepEqual((await logsOf(`error_kind=${kind}`)).map((row) => row.id), expectedIds, kind);
    }
  });

  it('stores the payload of an event once, for every handler and attempt, and the detail answers what each receiver got', async () => {
    const event = 'clients.update';
    const flaky = await t.receiver((_request, index) => ({ status: index === 0 ? 503 : 200 }));
    const receivers = [await t.receiver(), await t.receiver(), flaky];
    for (const r of receivers) await handler({ event, task: r.task(), retry_limit: r === flaky ? 2 : 0 });
    const id = ++objectId;
    const marker = `marker-${id}`;
    // Text whose JSON escapes must survive exactly: quotes, a backslash, non-ASCII, a line break, a slash.
    const data = { id, name: `Ünïcødé "${marker}" \\ end`, c_company: 'A/B\nC', tags: ['€', '日本'] };
    const accepted = await postEvent(t, { event, object_id: id, dt: '2026-11-22T10:15:30+02:00', data });
    await waitUntilSettled(t, accepted.id);
    const rows = await logsOf(`event_id=${accepted.id}`);
    assert.equal(rows.length, 4, 'three handlers, one of them twice');

    // One copy: in the event. None in the log rows, whatever the number of handlers and attempts.
    const stored: { request_payload: string }[] = await dataSource.query('SELECT request_payload FROM execution_logs WHERE event_id = ?', [accepted.id]);
    assert.deepEqual(stored.map((row) => row.request_payload), ['', '', '', '']);
    const [{ copies }] = await dataSource.query('SELECT COUNT(*) AS copies FROM execution_logs WHERE request_payload LIKE ?', [`%${marker}%`]);
    assert.equal(Number(copies), 0);
    const [{ events }] = await dataSource.query('SELECT COUNT(*) AS events FROM events WHERE data LIKE ?', [`%${marker}%`]);
    assert.equal(Number(events), 1);

    // Each detail answers, byte for byte, the body its receiver got.
    const received: Received[] = receivers.flatMap((r: TestReceiver) => r.requests);
    assert.equal(received.length, 4);
    for (const row of rows) {
      const shown = await detail(row.id);
      assert.equal(shown.request_payload_source, 'event');
      assert.equal(shown.request_payload, received[0]!.body);
    }
    assert.ok(received.every((request) => request.body === received[0]!.body));
    assert.deepEqual(JSON.parse(received[0]!.body).data, data);

    // Once retention has removed the event, a row that outlives it answers no payload, and says why.
    await dataSource.query('DELETE FROM events WHERE id = ?', [accepted.id]);
    const orphan = await detail(rows[0]!.id);
    assert.equal(orphan.request_payload, null);
    assert.equal(orphan.request_payload_source, 'removed');
    assert.equal((await logsOf(`event_id=${accepted.id}`)).length, 4, 'the rows themselves stay until their own retention');
  });

  it('stores a before-chain body once while it does not change, and each detail answers what its handler got', async () => {
    const event = 'clients.create';
    const json = (body: unknown) => ({ status: 200, body: JSON.stringify(body) });
    const allow1 = await t.receiver(() => json({}));
    const allow2 = await t.receiver(() => json({ allow: true }));
    const modifier = await t.receiver((request) => json({ data: { ...JSON.parse(request.body).data, name: 'Renamed' } }));
    const last = await t.receiver(() => json({}));
    const chain = [allow1, allow2, modifier, last];
    for (const [index, r] of chain.entries()) await handler({ event, stage: 'before', priority: index + 1, task: r.task() });
    const id = ++objectId;
    const response = await t.http.post('/api/v1/events/decide').set(t.admin).send({ event, object_id: id, data: { id, name: 'Original' } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.allowed, true);
    const logIds = (response.body.calls as { log_id: number }[]).map((call) => call.log_id);
    assert.equal(logIds.length, 4);
    const bodies = chain.map((r) => r.requests[0]!.body);
    assert.equal(bodies[0], bodies[1]);
    assert.equal(bodies[1], bodies[2]);
    assert.notEqual(bodies[3], bodies[2], 'the last handler got the renamed data');

    // SQL: the first three handlers got one body, kept once; the changed one is kept too.
    const stored: { id: unknown; request_payload: string }[] = await dataSource.query(
      `SELECT id, request_payload FROM execution_logs WHERE id IN (${logIds.map(() => '?').join(', ')}) ORDER BY id`,
      logIds,
    );
    assert.deepEqual(stored.map((row) => row.request_payload), [bodies[0], `=${logIds[0]}`, `=${logIds[0]}`, bodies[3]]);
    for (const [index, logId] of logIds.entries()) {
      const shown = await detail(logId);
      assert.equal(shown.request_payload, bodies[index], `call ${index + 1}`);
      assert.equal(shown.request_payload_source, 'stored');
    }
  });
});
