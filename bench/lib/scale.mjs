// Scale: the tables filled by SQL to 10,000 … 10,000,000 deliveries, then every list and filter
// of the execution logs, the handler logs tab, GET /events/{id}, GET /metrics and a dispatch run
// timed through HTTP, and the bytes the tables and their indexes take on disk.
//
// For each size: a fresh database; the compiled service starts once on it, so its own migrations
// make the tables, and the handlers are created through the API; the service stops, the tables
// are filled by set-based INSERT … SELECT (SQLite: a recursive CTE; MariaDB: the SEQUENCE
// engine's seq_1_to_N; MySQL: a recursive CTE). Once every size is filled, a service starts on
// each and the queries are timed on all sizes in turn, call by call (timeQueriesInTurn); then
// each size's dispatch runs. The fill
// reads the columns the migrations made and fills those it knows (the `columns` of each table in
// `generators`), so a column renamed or added by a later migration does not break it: an unknown
// NOT NULL column without a default gets a neutral value and a warning, a table it does not know
// stays empty and is named in a warning.
//
// The rows, for `rows` deliveries: rows / 3 events spread over 30 days (catalog event types,
// weighted as in WEIGHTS), 3 deliveries per event (the three handlers of the event's family),
// 1.1 execution logs per delivery (one delivery in ten has a failed first attempt before its
// last), statuses and errors mixed as in FINAL and FIRST_FAILURE. One delivery in ten is a retry
// pending and scheduled for later: the archive target (the third handler of every family) has
// been down for the last part of the month (`outage` in `generators`). Ids follow time, as they
// do in production.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { request } from 'undici';
import { preload } from './dispatch.mjs';
import { adminClient, createDatabase, databaseServerPid, newKey, startService } from './service.mjs';
import { now, round, sleep, summarize } from './util.mjs';

const DAY = 86_400_000;
const SPAN = 30 * DAY;
/** Roles of the three handlers of every family, in priority order; the third one's target is down (the outage). */
const ROLES = ['crm-sync', 'billing-mirror', 'archive'];
/** Environment of every service this part starts: no retention run may delete the filled rows (retention has its own benchmark). */
const SERVICE_ENV = { LOG_RETENTION_DAYS: '45' };

/** Relative frequency of the event types (a telecom billing month: charges, renewals, client changes); every other catalog type 3. */
const WEIGHTS = {
  'accounting.charges.create': 150,
  'clients.update': 110,
  'clients.subscriptions.renew': 90,
  'accounting.payments.create': 80,
  'clients.balance_zero': 40,
  'clients.balance_notzero': 40,
  'clients.accounts.update': 40,
  'dids.update': 35,
  'dids.activate': 30,
  'accounting.payments.update': 30,
  'clients.create': 25,
  'clients.accounts.create': 25,
  'clients.subscriptions.assign': 25,
  'clients.subscriptions.activate': 25,
  'accounting.charges.update': 20,
  'dids.stock': 20,
  'dids.reserve': 20,
  'dids.create': 20,
  'clients.custom_fields.update': 15,
  'clients.subscriptions.deactivate': 15,
  'clients.subscriptions.close': 12,
  'importd.process_success': 12,
  'email_rates_manager.import': 10,
};

/** Free text of a record (ASCII, so characters are bytes), cut to the length that brings an envelope to its size. */
const NOTE = 'Changed by operator j.smith through the billing portal, ticket OPS-4821, approved by the account manager. ';
const RESPONSE_CAP = 4096;
const STACK = 'java.lang.IllegalStateException: ledger connection pool exhausted\n\tat com.example.billing.LedgerClient.post(LedgerClient.java:214)\n\tat com.example.billing.WebhookController.receive(WebhookController.java:88)\n';
const HTML_503 =
  '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';
const HTML_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';
const JSON_500 = '{"error":"internal_error","message":"Unexpected error while saving the record","request_id":"';
const JSON_400 = '{"error":"validation_failed","details":[{"field":"data.currencies_id","message":"unknown currency"}],"request_id":"';

/**
 * Outcomes of a call, each with its weight out of 1,000. `body: [prefix, suffix]` puts the
 * object id between the two (answers that echo the record); `timeout` and network errors have
 * no response. The capped body is as long as RESPONSE_BODY_CAP_BYTES keeps (4096 by default).
 * `kind` is the error kind the service stores with such a call (src/calls/call-result.ts), so
 * the error_kind filter is timed on rows like production's.
 */
const outcome = (weight, status, code, body, error, kind, duration, jitter) => ({ weight, status, code, body, error, kind, duration, jitter });
const FINAL = [
  outcome(620, 'success', 200, ['{"ok":true,"id":"', '"}'], null, null, 35, 120),
  outcome(200, 'success', 200, ['{"status":"accepted","reference":"REF-', '","received_at":"2026-11-22T10:15:31Z"}'], null, null, 60, 200),
  outcome(100, 'success', 204, ['', null], null, null, 25, 80),
  outcome(45, 'success', 201, ['{"created":true,"record":{"id":"', '","state":"synced","version":3,"links":{"self":"/api/records/sync/3","history":"/api/records/sync/3/history"},"warnings":[]}}'], null, null, 90, 300),
  outcome(6, 'fail', null, null, 'timeout after 15000 ms', 'timeout', 15000, 40),
  outcome(4, 'fail', 500, [JSON_500, '"}'], 'receiver answered 500', 'http_5xx', 120, 300),
  outcome(4, 'fail', 503, [HTML_503, null], 'receiver answered 503', 'http_5xx', 8, 30),
  outcome(3, 'fail', 502, [HTML_502, null], 'receiver answered 502', 'http_5xx', 30, 60),
  outcome(2, 'fail', 400, [JSON_400, '"}'], 'receiver answered 400', 'http_4xx', 40, 80),
  outcome(2, 'fail', null, null, 'connection refused', 'connection_refused', 1, 3),
  outcome(1, 'fail', 500, [STACK.repeat(Math.ceil(RESPONSE_CAP / STACK.length)).slice(0, RESPONSE_CAP), null], 'receiver answered 500', 'http_5xx', 400, 600),
  outcome(13, 'skipped', null, null, 'skipped: handler is disabled', 'skipped', 0, 0),
];
/** The first, failed attempt of a delivery that was retried. */
const FIRST_FAILURE = [
  outcome(350, 'fail', null, null, 'timeout after 15000 ms', 'timeout', 15000, 40),
  outcome(150, 'fail', 503, [HTML_503, null], 'receiver answered 503', 'http_5xx', 8, 30),
  outcome(100, 'fail', 502, [HTML_502, null], 'receiver answered 502', 'http_5xx', 30, 60),
  outcome(100, 'fail', 500, [JSON_500, '"}'], 'receiver answered 500', 'http_5xx', 120, 300),
  outcome(20, 'fail', 500, [STACK.repeat(Math.ceil(RESPONSE_CAP / STACK.length)).slice(0, RESPONSE_CAP), null], 'receiver answered 500', 'http_5xx', 400, 600),
  outcome(150, 'fail', null, null, 'connection refused', 'connection_refused', 1, 3),
  outcome(60, 'fail', null, null, 'connection reset by the receiver', 'network', 200, 400),
  outcome(30, 'fail', 400, [JSON_400, '"}'], 'receiver answered 400', 'http_4xx', 40, 80),
  outcome(20, 'fail', null, null, 'host name lookup failed (temporary)', 'dns', 5, 20),
  outcome(20, 'fail', null, null, 'TLS certificate expired', 'tls', 15, 20),
];
/** Every call to the archive target while it is down. */
const OUTAGE = outcome(1, 'fail', null, null, 'connection refused', 'connection_refused', 1, 3);
const OUTAGE_SLOT = 2000;

/** Odd multipliers of the multiplicative hashes that spread types, objects and outcomes over the rows. */
const M = [2654435761, 2246822519, 3266489917, 668265263, 374761393, 1103515245];
const TWO32 = 4294967296;

/** The catalog of the compiled service (npm run bench builds it first). */
async function loadCatalog() {
  const file = resolve('dist/src/events/event-catalog.js');
  try {
    return (await import(pathToFileURL(file).href)).EVENT_CATALOG;
  } catch (error) {
    throw new Error(`scale: cannot read the event catalog from ${file} (run npm run build): ${error.message}`);
  }
}

/**
 * The pattern of the handlers that get an event type: `prefix.*` where the catalog has a group
 * for it, the type itself for the client events (no wildcard covers only those). The families
 * are disjoint, so every event has exactly the three handlers of its family.
 */
function familyOf(type) {
  const parts = type.split('.');
  if (parts.length >= 3) return `${parts[0]}.${parts[1]}.*`;
  return parts[0] === 'clients' ? type : `${parts[0]}.*`;
}

/** Event types with their slots (out of 1,000), families and `data` templates (the object id goes between prefix and suffix). */
export async function eventTypes() {
  const catalog = await loadCatalog();
  const total = catalog.reduce((sum, e) => sum + (WEIGHTS[e.id] ?? 3), 0);
  const families = [...new Set(catalog.map((e) => familyOf(e.id)))];
  // The richest sample of each entity: an update carries the whole record, as CoreAPI sends it.
  const richest = new Map();
  for (const e of catalog) {
    const size = JSON.stringify(e.sampleData).length;
    if (size > (richest.get(e.entity)?.size ?? 0)) richest.set(e.entity, { size, data: e.sampleData });
  }
  let used = 0;
  const types = catalog.map((e, index) => {
    const slots = Math.max(1, Math.round(((WEIGHTS[e.id] ?? 3) / total) * 1000));
    used += slots;
    let data = null;
    if (Object.keys(e.sampleData).length > 0) {
      const record = { ...richest.get(e.entity).data, ...e.sampleData, id: 0 };
      // Envelopes of 300 to 600 bytes: the record plus a note whose length depends on the type.
      const target = 300 + ((index * 97) % 300);
      const base = JSON.stringify({ ...record, notes: '' }).length + 90 + e.id.length + 7;
      record.notes = NOTE.repeat(10).slice(0, Math.max(0, target - base)).trimEnd();
      const json = JSON.stringify(record);
      const at = json.indexOf('"id":0');
      data = { prefix: json.slice(0, at + 5), suffix: json.slice(at + 6) };
    }
    return { id: e.id, entity: e.entity, family: families.indexOf(familyOf(e.id)), slots, data };
  });
  // Rounding: the most frequent type takes up the difference, so the slots are exactly 1,000.
  types.reduce((a, b) => (b.slots > a.slots ? b : a)).slots += 1000 - used;
  return { types, families };
}

/** The shape of the data for `rows` deliveries, and the JS twins of the SQL expressions the queries need. */
export function plan(rows, startedAt = Date.now()) {
  const events = Math.ceil(rows / 3);
  const deliveries = events * 3;
  const logs = 11 * Math.floor(deliveries / 10) + (deliveries % 10 === 0 ? 0 : (deliveries % 10) + 1);
  // One delivery in ten pending: all of them the archive target's (seq 3), of the latest events.
  const outageEvents = Math.min(events, Math.round(deliveries / 10));
  const end = startedAt - 60_000;
  const objects = Math.max(100, Math.floor(events / 4));
  const hash = (x, m) => Number((BigInt(x) * BigInt(m)) % BigInt(TWO32));
  return {
    rows,
    events,
    deliveries,
    logs,
    outageEvents,
    pending: outageEvents,
    start: end - SPAN,
    end,
    objects,
    objectIdOf: (i) => 1 + (hash(i, M[1]) % objects),
    acceptedAtOf: (i) => end - SPAN + Math.floor(((i - 1) * SPAN) / events),
  };
}

// ---------------------------------------------------------------------------------------------
// SQL of the fill, in both dialects
// ---------------------------------------------------------------------------------------------

export const DIALECTS = {
  sqlite: {
    cat: (...parts) => `(${parts.join(' || ')})`,
    div: (a, b) => `((${a}) / (${b}))`,
    dt: (ms) => `strftime('%Y-%m-%dT%H:%M:%S+00:00', (${ms}) / 1000, 'unixepoch')`,
    pad: (x, n) => `printf('%0${n}d', ${x})`,
    /** Rows lo..hi with column k: a recursive CTE (the statement starts with its WITH). */
    numbers: (lo, hi) => ({ before: `WITH RECURSIVE n(k) AS (SELECT ${lo} UNION ALL SELECT k + 1 FROM n WHERE k < ${hi}) `, after: '', from: 'n' }),
  },
  mysql: {
    cat: (...parts) => `CONCAT(${parts.join(', ')})`,
    div: (a, b) => `((${a}) DIV (${b}))`,
    dt: (ms) => `DATE_FORMAT(FROM_UNIXTIME((${ms}) DIV 1000), '%Y-%m-%dT%H:%i:%s+00:00')`,
    pad: (x, n) => `LPAD(${x}, ${n}, '0')`,
    /** MariaDB's SEQUENCE engine; MySQL (no such engine): a recursive CTE, which it takes after INSERT. */
    numbers: (lo, hi, sequenceEngine) =>
      sequenceEngine
        ? { before: '', after: '', from: `(SELECT seq AS k FROM seq_${lo}_to_${hi}) n` }
        : { before: '', after: `WITH RECURSIVE n(k) AS (SELECT ${lo} UNION ALL SELECT k + 1 FROM n WHERE k < ${hi}) `, from: 'n' },
  },
};

/**
 * The INSERT … SELECT of each table for rows lo..hi, as column → expression over the derived
 * table `x` and the helper tables t (type), h (handler), o (outcome). Only the columns the table
 * has are written.
 */
export function generators(sql, p, refs) {
  const hash = (x, m) => `(((${x}) * ${m}) % ${TWO32})`;
  const slot = (x, m) => sql.div(hash(x, m), Math.ceil(TWO32 / 1000));
  const objectId = (i) => `(1 + ${hash(i, M[1])} % ${p.objects})`;
  const acceptedAt = (i) => `(${p.start} + ${sql.div(`((${i}) - 1) * ${SPAN}`, p.events)})`;
  const outage = (i, s) => `(${s} = 3 AND ${i} > ${p.events - p.outageEvents})`;
  const objectKey = sql.cat('t.entity', "':'", 'x.oid');
  const data = `CASE WHEN t.has_id = 1 THEN ${sql.cat('t.data_prefix', 'x.oid', 't.data_suffix')} ELSE '{}' END`;
  const dt = sql.dt('x.acc');
  const joins = 'JOIN scale_types t ON t.slot = x.slot';
  const handlerJoin = 'JOIN scale_handlers h ON h.family = t.family AND h.seq = x.s';

  // Event i.
  const eventRow = (source) =>
    `(SELECT k AS i, ${objectId('k')} AS oid, ${acceptedAt('k')} AS acc, ${slot('k', M[0])} AS slot, ${hash('k', M[2])} AS h FROM ${source})`;
  const events = {
    from: (source) => `${eventRow(source)} x ${joins}`,
    columns: {
      id: 'x.i',
      events_id: 't.events_id',
      object_id: 'x.oid',
      object_key: objectKey,
      dt,
      data,
      // Keys in the order of the events (as a client's own sequence numbers would be): the unique index grows at its end.
      idempotency_key: `CASE WHEN x.h % 10 < 3 THEN ${sql.cat("'order-'", sql.pad('x.i', 10), "'-'", 'x.h')} ELSE NULL END`,
      request_hash: `CASE WHEN x.h % 10 < 3 THEN ${sql.pad('x.h', 43)} ELSE NULL END`,
      api_key_id: String(refs.apiKeyId),
      accepted_at: 'x.acc',
    },
  };

  // Delivery d: event i = (d - 1) / 3 + 1, seq s = (d - 1) % 3 + 1; deliveries d ≡ 1 (mod 10) were retried once.
  const deliveryBase = (source) => `(SELECT k AS d, ${sql.div('k - 1', 3)} + 1 AS i, (k - 1) % 3 + 1 AS s FROM ${source})`;
  const deliveryRow = (source) =>
    `(SELECT b.d, b.i, b.s, ${objectId('b.i')} AS oid, ${acceptedAt('b.i')} AS acc, ${slot('b.i', M[0])} AS slot, ` +
    `CASE WHEN ${outage('b.i', 'b.s')} THEN 1 ELSE 0 END AS down, CASE WHEN (b.d - 1) % 10 = 0 THEN 1 ELSE 0 END AS retried, ` +
    `CASE WHEN ${outage('b.i', 'b.s')} THEN ${OUTAGE_SLOT} ELSE ${slot('b.d', M[3])} END AS oslot, ${hash('b.d', M[4])} AS h FROM ${deliveryBase(source)} b)`;
  // The time of the last attempt: the handlers of an event run one after another, a retry 5 s later.
  const lastCall = '(x.acc + (x.s - 1) * 30 + x.retried * 5030)';
  const deliveries = {
    from: (source) => `${deliveryRow(source)} x ${joins} ${handlerJoin} JOIN scale_outcomes o ON o.slot = x.oslot`,
    // The queue keeps what is still to do and what may be sent again: a delivery that succeeded
    // has left it (src/queue/delivery-queue.ts finishStatements), and its log rows tell it.
    where: "x.down = 1 OR o.status <> 'success'",
    columns: {
      id: 'x.d',
      event_id: 'x.i',
      handler_id: 'h.handler_id',
      seq: 'x.s',
      object_key: objectKey,
      status: "CASE WHEN x.down = 1 THEN 'pending' WHEN o.status = 'success' THEN 'succeeded' WHEN o.status = 'fail' THEN 'failed' ELSE 'skipped' END",
      // An attempted delivery no longer holds back later ones on its object (the column was renamed once: both names).
      blocking: '0',
      holds_order: '0',
      attempts: "(1 + x.retried - CASE WHEN o.status = 'skipped' THEN 1 ELSE 0 END)",
      manual: '0',
      // The outage's retries are due 3 to 13 hours from now: none comes due while the benchmark runs.
      next_attempt_at: `CASE WHEN x.down = 1 THEN ${refs.now + 3 * 3_600_000} + x.h % 36000000 ELSE ${lastCall} END`,
      lease_owner: 'NULL',
      lease_expires_at: 'NULL',
      last_response_code: 'o.code',
      last_error: 'o.error',
      created_at: 'x.acc',
      updated_at: lastCall,
    },
  };

  // Log row L: blocks of 11 rows for 10 deliveries; the first delivery of a block has two rows (attempts 1 and 2).
  const logBase = (source) =>
    `(SELECT k AS l, 10 * ${sql.div('k - 1', 11)} + CASE WHEN (k - 1) % 11 <= 1 THEN 1 ELSE (k - 1) % 11 END AS d, ` +
    `CASE WHEN (k - 1) % 11 = 1 THEN 2 ELSE 1 END AS attempt, CASE WHEN (k - 1) % 11 = 0 THEN 1 ELSE 0 END AS early FROM ${source})`;
  const logMid = (source) => `(SELECT a.l, a.d, a.attempt, a.early, ${sql.div('a.d - 1', 3)} + 1 AS i, (a.d - 1) % 3 + 1 AS s FROM ${logBase(source)} a)`;
  const logRow = (source) =>
    `(SELECT b.l, b.d, b.attempt, b.i, b.s, ${objectId('b.i')} AS oid, ${acceptedAt('b.i')} AS acc, ${slot('b.i', M[0])} AS slot, ` +
    `CASE WHEN ${outage('b.i', 'b.s')} THEN ${OUTAGE_SLOT} WHEN b.early = 1 THEN 1000 + ${slot('b.d', M[5])} ELSE ${slot('b.d', M[3])} END AS oslot, ` +
    `${hash('b.l', M[4])} AS h FROM ${logMid(source)} b)`;
  const envelope = sql.cat(`'{"event":{"dt":"'`, dt, `'","events_id":"'`, 't.events_id', `'","object_id":'`, 'x.oid', `'},"data":'`, data, `'}'`);
  const logs = {
    from: (source) => `${logRow(source)} x ${joins} ${handlerJoin} JOIN scale_outcomes o ON o.slot = x.oslot`,
    columns: {
      id: 'x.l',
      delivery_id: 'x.d',
      event_id: 'x.i',
      events_id: 't.events_id',
      handler_id: 'h.handler_id',
      handler_name: 'h.handler_name',
      object_id: 'x.oid',
      stage: "'after'",
      attempt: 'x.attempt',
      trigger_type: "'auto'",
      status: 'o.status',
      request_payload: envelope,
      response_code: 'o.code',
      response_body: `CASE WHEN o.body_prefix IS NULL THEN NULL WHEN o.body_suffix IS NULL THEN o.body_prefix ELSE ${sql.cat('o.body_prefix', 'x.oid', 'o.body_suffix')} END`,
      error: 'o.error',
      error_kind: 'o.error_kind',
      duration_ms: '(o.duration + x.h % (o.jitter + 1))',
      created_at: '(x.acc + (x.s - 1) * 30 + (x.attempt - 1) * 5030)',
    },
  };
  return { events, deliveries, execution_logs: logs };
}

/** Columns the migrations made: name, whether it may be left out (nullable, defaulted or generated), and whether it is numeric. */
async function columnsOf(db, table) {
  if (db.kind === 'sqlite') {
    return db.conn
      .prepare(`SELECT name, type, "notnull" AS required, dflt_value, pk FROM pragma_table_info(?)`)
      .all(table)
      .map((c) => ({ name: c.name, optional: !c.required || c.dflt_value !== null || c.pk === 1, numeric: /INT|REAL|NUM|DEC|FLOA|DOUB|BOOL/i.test(c.type) }));
  }
  const [rows] = await db.conn.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, EXTRA AS extra
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [table],
  );
  return rows.map((c) => ({
    name: c.name,
    optional: c.nullable === 'YES' || c.dflt !== null || /auto_increment|GENERATED/i.test(c.extra),
    numeric: /int|decimal|float|double|bit|year/i.test(c.type),
  }));
}

/** The column list and expressions of an INSERT into `table`, from what it has; warnings for what the fill does not know. */
async function insertShape(db, table, generator, warnings) {
  const columns = await columnsOf(db, table);
  if (columns.length === 0) throw new Error(`scale: the service's migrations made no table ${table}`);
  const names = [];
  const values = [];
  for (const column of columns) {
    const expression = generator.columns[column.name];
    if (expression !== undefined) {
      names.push(column.name);
      values.push(expression);
    } else if (!column.optional) {
      names.push(column.name);
      values.push(column.numeric ? '0' : "''");
      warnings.push(`${table}.${column.name} is new to the fill: filled with ${column.numeric ? '0' : "''"}`);
    } else if (!['lease_owner', 'lease_expires_at'].includes(column.name)) {
      warnings.push(`${table}.${column.name} is new to the fill: left to its default`);
    }
  }
  return { names, values };
}

/** The helper tables the fill joins (TEMP/TEMPORARY: they are not part of the database and vanish with the connection). */
export async function helperTables(db, types, handlers) {
  const typeRows = [];
  for (const type of types.types) for (let n = 0; n < type.slots; n++) typeRows.push([typeRows.length, type.id, type.entity, type.family, type.data?.prefix ?? null, type.data?.suffix ?? null, type.data ? 1 : 0]);
  const handlerRows = handlers.map((h) => [h.family, h.seq, h.id, h.name]);
  const outcomeRows = [];
  const addOutcomes = (list, base) => {
    let slot = base;
    for (const o of list) for (let n = 0; n < o.weight; n++) outcomeRows.push([slot++, o.status, o.code, o.body?.[0] ?? null, o.body?.[1] ?? null, o.error, o.kind, o.duration, o.jitter]);
  };
  addOutcomes(FINAL, 0);
  addOutcomes(FIRST_FAILURE, 1000);
  addOutcomes([OUTAGE], OUTAGE_SLOT);
  const tables = [
    ['scale_types', 'slot INTEGER PRIMARY KEY, events_id VARCHAR(100), entity VARCHAR(32), family INTEGER, data_prefix TEXT, data_suffix TEXT, has_id INTEGER', typeRows],
    ['scale_handlers', 'family INTEGER, seq INTEGER, handler_id INTEGER, handler_name VARCHAR(200), PRIMARY KEY (family, seq)', handlerRows],
    ['scale_outcomes', 'slot INTEGER PRIMARY KEY, status VARCHAR(8), code INTEGER, body_prefix TEXT, body_suffix TEXT, error VARCHAR(1000), error_kind VARCHAR(20), duration INTEGER, jitter INTEGER', outcomeRows],
  ];
  for (const [name, definition, rows] of tables) {
    const marks = `(${rows[0].map(() => '?').join(', ')})`;
    if (db.kind === 'sqlite') {
      db.conn.exec(`CREATE TEMP TABLE ${name} (${definition})`);
      const insert = db.conn.prepare(`INSERT INTO ${name} VALUES ${marks}`);
      for (const row of rows) insert.run(row);
    } else {
      await db.conn.query(`CREATE TEMPORARY TABLE ${name} (${definition})`);
      for (let at = 0; at < rows.length; at += 500) {
        const part = rows.slice(at, at + 500);
        await db.conn.query(`INSERT INTO ${name} VALUES ${part.map(() => marks).join(', ')}`, part.flat());
      }
    }
  }
}

/**
 * MySQL/MariaDB: the plain secondary indexes (KEY lines of SHOW CREATE TABLE) of the big tables
 * are dropped before the fill and added back after it, exactly as the migrations defined them:
 * with InnoDB's default 128 MB buffer pool, an index in random order (deliveries by object) makes
 * every insert a disk read at 10 million rows, where a build after the fill sorts once. UNIQUE,
 * FULLTEXT and the primary key stay in place. The definitions are checked to be the same after.
 */
async function deferIndexes(db, tables) {
  const deferred = [];
  for (const table of tables) {
    const [[row]] = await db.conn.query(`SHOW CREATE TABLE \`${table}\``);
    const definition = row['Create Table'];
    const keys = definition
      .split('\n')
      .map((line) => line.trim().replace(/,$/, ''))
      .filter((line) => /^KEY `/.test(line));
    if (keys.length === 0) continue;
    const names = keys.map((line) => /^KEY `([^`]+)`/.exec(line)[1]);
    await db.conn.query(`ALTER TABLE \`${table}\` ${names.map((name) => `DROP INDEX \`${name}\``).join(', ')}`);
    deferred.push({ table, keys, definition });
  }
  return async function restore() {
    for (const { table, keys, definition } of deferred) {
      await db.conn.query(`ALTER TABLE \`${table}\` ${keys.map((key) => `ADD ${key}`).join(', ')}`);
      const [[row]] = await db.conn.query(`SHOW CREATE TABLE \`${table}\``);
      const lines = (text) => text.split('\n').map((line) => line.trim().replace(/,$/, '').replace(/ AUTO_INCREMENT=\d+/, '')).sort().join('\n');
      if (lines(row['Create Table']) !== lines(definition)) throw new Error(`scale: ${table} differs from the migrations' definition after its indexes were rebuilt:\n${row['Create Table']}`);
    }
  };
}

/** Rows per INSERT … SELECT of the fill: SQLite fills in one transaction anyway; MariaDB's chunks keep each statement's undo small. */
export const FILL_CHUNK = { sqlite: 1_000_000, mysql: 100_000 };

/**
 * MySQL/MariaDB: the partition the ExecutionLogsById migration leaves for the rows written
 * before it (`p_history`, every id below today's first) split, while still empty (before the
 * fill), at the first id the fill gives each UTC day from the day of `p.start` on: the table as
 * it is once the service has kept its days for as long as the rows go back, each past day's
 * ids a partition retention can drop whole. What is left below today's first id (the fill's
 * rows of today) stays `p_history`. Answers how many day partitions it made (0 on SQLite, or
 * when the first partition is a day already).
 */
export async function partitionHistoryByDay(db, p) {
  if (db.kind === 'sqlite') return 0;
  const [partitions] = await db.conn.query(
    `SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound FROM information_schema.PARTITIONS
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION`,
  );
  const history = partitions[0];
  if (!history || history.name !== 'p_history' || history.bound === 'MAXVALUE') return 0;
  const days = [];
  for (let day = Math.floor(p.start / DAY) * DAY; day + DAY <= p.end - (p.end % DAY); day += DAY) {
    const bound = firstLogIdFrom(p, day + DAY);
    if (bound > 1 && bound <= p.logs) days.push(`PARTITION p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')} VALUES LESS THAN (${bound})`);
  }
  if (days.length === 0) return 0;
  await db.conn.query(`ALTER TABLE execution_logs REORGANIZE PARTITION p_history INTO (${days.join(', ')}, PARTITION p_history VALUES LESS THAN (${Number(history.bound)}))`);
  return days.length;
}

/** The fill's created_at of log row `l` (the JS twin of generators' execution_logs columns). */
export function logCreatedAtOf(p, l) {
  const k = l - 1;
  const d = 10 * Math.floor(k / 11) + (k % 11 <= 1 ? 1 : k % 11);
  const attempt = k % 11 === 1 ? 2 : 1;
  const i = Math.floor((d - 1) / 3) + 1;
  const s = ((d - 1) % 3) + 1;
  return p.acceptedAtOf(i) + (s - 1) * 30 + (attempt - 1) * 5030;
}

/** The first log id whose created_at is at or after `at` (the fill's dates grow with the id but for a retry's few seconds). */
function firstLogIdFrom(p, at) {
  let low = 0; // dated before `at` (or none)
  let high = p.logs + 1; // at or after (or past the last)
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (logCreatedAtOf(p, middle) < at) low = middle;
    else high = middle;
  }
  return high;
}

/**
 * Fills events, deliveries and execution_logs for plan `p`, in chunks of `chunk` rows per
 * statement. SQLite: one writer, so one transaction for the three tables, with the journal off
 * and the sync off (the service is stopped; WAL again after). MySQL/MariaDB: the three tables at
 * once, each on a connection of its own (they do not read each other), indexes deferred (see
 * deferIndexes). Answers the seconds (wall and CPU) per table.
 */
export async function fill(db, p, types, handlers, { log, chunk }) {
  const sql = DIALECTS[db.kind === 'sqlite' ? 'sqlite' : 'mysql'];
  const warnings = [];
  const seconds = {};
  const cpu = {};
  const apiKeyId = await scalar(db, 'SELECT MIN(id) AS v FROM api_keys');
  const gens = generators(sql, p, { apiKeyId: apiKeyId ?? 'NULL', now: Date.now() });
  const counts = { events: p.events, deliveries: p.deliveries, execution_logs: p.logs };
  const sequenceEngine = db.kind !== 'sqlite' && (await scalar(db, 'SELECT COUNT(*) AS v FROM seq_1_to_1').then(() => true, () => false));

  /** Inserts rows 1..count of `table` on connection `c`; answers wall and CPU seconds. */
  const insertAll = async (c, table, count) => {
    const shape = await insertShape(c, table, gens[table], warnings);
    const clock = await cpuClock(c);
    const began = performance.now();
    const cpuBefore = clock();
    for (let lo = 1; lo <= count; lo += chunk) {
      const hi = Math.min(count, lo + chunk - 1);
      const source = sql.numbers(lo, hi, sequenceEngine);
      const where = gens[table].where ? ` WHERE ${gens[table].where}` : '';
      const statement = `${source.before}INSERT INTO ${table} (${shape.names.join(', ')}) ${source.after}SELECT ${shape.values.join(', ')} FROM ${gens[table].from(source.from)}${where}`;
      if (c.kind === 'sqlite') c.conn.exec(statement);
      else await c.conn.query(statement);
    }
    seconds[table] = round((performance.now() - began) / 1000, 1);
    cpu[table] = round(clock() - cpuBefore, 1);
    const rows = gens[table].where ? `${count.toLocaleString('en-US')} rows generated (those still queued inserted)` : `${count.toLocaleString('en-US')} rows`;
    log(`    ${table}: ${rows} in ${seconds[table]} s (${cpu[table]} s CPU${c.kind === 'sqlite' ? '' : ' in its server thread'})`);
  };

  if (db.kind === 'sqlite') {
    db.conn.pragma('journal_mode = OFF');
    db.conn.pragma('synchronous = OFF');
    db.conn.pragma('cache_size = -1048576');
    db.conn.pragma('temp_store = MEMORY');
    await helperTables(db, types, handlers);
    db.conn.exec('BEGIN');
    for (const [table, count] of Object.entries(counts)) await insertAll(db, table, count);
    const began = performance.now();
    db.conn.exec('COMMIT');
    db.conn.pragma('journal_mode = WAL');
    seconds.commit = round((performance.now() - began) / 1000, 1);
    log(`    commit ${seconds.commit} s`);
  } else {
    await Promise.all(
      Object.entries(counts).map(async ([table, count]) => {
        const c = await db.another();
        try {
          await c.conn.query("SET SESSION time_zone = '+00:00', unique_checks = 0, foreign_key_checks = 0");
          // A recursive CTE stops after 1,000 rows unless told otherwise (each server has its own variable).
          if (!sequenceEngine) {
            for (const variable of ['cte_max_recursion_depth', 'max_recursive_iterations']) await c.conn.query(`SET SESSION ${variable} = ${chunk + 1}`).catch(() => {});
          }
          await helperTables(c, types, handlers);
          const restore = await deferIndexes(c, [table]);
          await insertAll(c, table, count);
          const began = performance.now();
          await restore();
          seconds[`${table} indexes`] = round((performance.now() - began) / 1000, 1);
          log(`    ${table}: secondary indexes built in ${seconds[`${table} indexes`]} s`);
        } finally {
          await c.close();
        }
      }),
    );
  }
  // Every row is there (ids are dense from 1, but for the deliveries that left the queue).
  const stored = {};
  for (const [table, count] of Object.entries(counts)) {
    const top = Number(await scalar(db, `SELECT MAX(id) AS v FROM ${table}`));
    stored[table] = gens[table].where ? Number(await scalar(db, `SELECT COUNT(*) AS v FROM ${table}`)) : count;
    if (gens[table].where ? top > count : top !== count) throw new Error(`scale: ${table} has ids up to ${top}, ${count} expected`);
    // The service's new rows come after every id the fill stood for, inserted or not (the benchmarks tell them apart by id).
    if (top < count) {
      if (db.kind === 'sqlite') db.conn.prepare('UPDATE sqlite_sequence SET seq = ? WHERE name = ?').run(count, table);
      else await db.conn.query(`ALTER TABLE ${table} AUTO_INCREMENT = ${count + 1}`);
    }
  }
  const known = new Set(['events', 'deliveries', 'execution_logs', 'handlers', 'handler_changes', 'api_keys', 'app_meta', 'migrations', 'typeorm_metadata', 'sqlite_sequence']);
  const tables = await tableNames(db);
  const empty = tables.filter((t) => !known.has(t) && !/^(sqlite_|.*_fts(_|$))/.test(t));
  for (const t of empty) warnings.push(`table ${t} is new to the fill: not filled`);
  for (const warning of [...new Set(warnings)]) log(`    note: ${warning}`);
  return { seconds, cpuSeconds: cpu, warnings: [...new Set(warnings)], stored };
}

/**
 * CPU seconds spent on the fill so far, whatever else the machine runs: SQLite fills in this
 * process; MariaDB in the server thread of this connection (information_schema.PROCESSLIST.TID,
 * read from /proc). NaN where neither can be read (MySQL, another host).
 */
async function cpuClock(db) {
  if (db.kind === 'sqlite') {
    return () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    };
  }
  const pid = databaseServerPid();
  let tid = null;
  try {
    [[{ tid }]] = await db.conn.query('SELECT TID AS tid FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()');
  } catch {
    /* MySQL has no TID column */
  }
  return () => {
    try {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return NaN;
    }
  };
}

async function scalar(db, statement) {
  if (db.kind === 'sqlite') return db.conn.prepare(statement).get()?.v ?? null;
  const [[row]] = await db.conn.query(statement);
  return row?.v ?? null;
}

async function tableNames(db) {
  if (db.kind === 'sqlite') return db.conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name);
  const [rows] = await db.conn.query("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'");
  return rows.map((r) => r.name);
}

/**
 * Bytes on disk of every table and its indexes. SQLite: the dbstat virtual table (pages of each
 * b-tree, indexes counted with their table); MySQL/MariaDB: information_schema.TABLES
 * data_length + index_length after ANALYZE TABLE, and the tablespace files as a check (they also
 * hold the FULLTEXT auxiliary tables and free pages).
 */
export async function measureBytes(db, deliveries) {
  const tables = {};
  const add = (table, kind, bytes) => {
    tables[table] ??= { data: 0, indexes: 0 };
    tables[table][kind] += Number(bytes);
  };
  let files = null;
  if (db.kind === 'sqlite') {
    const owners = new Map(db.conn.prepare('SELECT name, type, tbl_name FROM sqlite_master').all().map((r) => [r.name, r]));
    for (const row of db.conn.prepare('SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE').all()) {
      const owner = owners.get(row.name);
      const table = owner?.tbl_name ?? row.name;
      add(table, owner?.type === 'index' ? 'indexes' : 'data', row.pgsize);
      (tables[table].byIndex ??= {})[row.name] = Number(row.pgsize);
    }
  } else {
    // Deleted rows' pages are freed by InnoDB's purge, in the background: wait for it, so the
    // figure does not depend on how far it had come (MariaDB 10.5.7+; elsewhere a no-op).
    await db.conn.query('SET GLOBAL innodb_max_purge_lag_wait = 0').catch(() => {});
    for (const name of await tableNames(db)) await db.conn.query(`ANALYZE TABLE \`${name}\``);
    const [rows] = await db.conn.query(
      'SELECT TABLE_NAME AS name, DATA_LENGTH AS data, INDEX_LENGTH AS idx FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()',
    );
    for (const row of rows) {
      add(row.name, 'data', row.data);
      add(row.name, 'indexes', row.idx);
    }
    // Each index's pages (summed over a partitioned table's partitions), to tell which index weighs what.
    const [stats] = await db.conn.query(
      `SELECT table_name AS tbl, index_name AS idx, SUM(IF(stat_name = 'size', stat_value, 0)) * @@innodb_page_size AS bytes,
              SUM(IF(stat_name = 'n_leaf_pages', stat_value, 0)) * @@innodb_page_size AS leaves
         FROM mysql.innodb_index_stats WHERE database_name = DATABASE() AND stat_name IN ('size', 'n_leaf_pages') GROUP BY 1, 2`,
    );
    for (const row of stats) {
      const table = String(row.tbl).replace(/#P#.*$/, '');
      if (!tables[table]) continue;
      (tables[table].byIndex ??= {})[row.idx] = (tables[table].byIndex[row.idx] ?? 0) + Number(row.bytes);
      // Leaf pages in use, of the pages allocated: the rest is the segment's reserve and the inner pages.
      (tables[table].leafBytes ??= {})[row.idx] = (tables[table].leafBytes[row.idx] ?? 0) + Number(row.leaves);
    }
    try {
      const [spaces] = await db.conn.query(
        "SELECT SUM(FILE_SIZE) AS size FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME LIKE CONCAT(DATABASE(), '/%')",
      );
      files = spaces[0]?.size === null ? null : Number(spaces[0].size);
    } catch {
      files = null; // MySQL 8 names this table INNODB_TABLESPACES; the figure is a check only
    }
  }
  const total = Object.values(tables).reduce((sum, t) => sum + t.data + t.indexes, 0);
  return {
    method: db.kind === 'sqlite' ? 'dbstat' : 'information_schema.TABLES after ANALYZE TABLE',
    totalBytes: total,
    perMillionDeliveries: Math.round((total * 1_000_000) / deliveries),
    tablespaceFilesBytes: files,
    tables,
  };
}

// ---------------------------------------------------------------------------------------------
// Timing through HTTP
// ---------------------------------------------------------------------------------------------

async function getJson(url, key) {
  const began = now();
  const res = await request(url, { headers: { authorization: `Bearer ${key}` } });
  const text = await res.body.text();
  const ms = now() - began;
  return { status: res.statusCode, ms, text };
}

/**
 * The page size of the filters whose rows are rare: the 10,000-row tables hold 15 to 29 of them,
 * the larger ones fill the default page of 50; a page every size fills keeps each query's
 * ratio to its 10,000-row figure a measure of the table's size, not of how many rows it answers.
 */
const RARE_PAGE = 10;

/** The queries to time, from what the plan filled and what the served OpenAPI document offers. */
async function queryList(service, key, p, refs) {
  const docs = JSON.parse((await getJson(`${service.url}/docs-json`, key)).text);
  const logParams = new Set((docs.paths['/api/v1/execution-logs']?.get?.parameters ?? []).map((param) => param.name));
  const mid = Math.floor(p.events / 2);
  const hourFrom = new Date(p.start + 15 * DAY).toISOString();
  const hourTo = new Date(p.start + 15 * DAY + 3_600_000).toISOString();
  const logs = '/api/v1/execution-logs';
  const tab = `/api/v1/handlers/${refs.busy.id}/execution-logs`;
  const list = [
    ['logs: newest page', logs],
    ['logs: next page (cursor)', logs, { cursorOf: logs }],
    ['logs: newest page with count=true', `${logs}?count=true`],
    ['logs: handler_id (busy handler)', `${logs}?handler_id=${refs.busy.id}`],
    ['logs: handler_id (quiet handler)', `${logs}?handler_id=${refs.quiet.id}`],
    ['logs: event (frequent type)', `${logs}?event=clients.update`],
    ['logs: event (rare type)', `${logs}?event=${refs.rareType}&limit=${RARE_PAGE}`],
    ['logs: event_id', `${logs}?event_id=${mid}`],
    ['logs: object_id', `${logs}?object_id=${p.objectIdOf(mid)}`, { needs: 'object_id' }],
    ['logs: status=fail', `${logs}?status=fail`],
    ['logs: status=skipped', `${logs}?status=skipped`],
    ['logs: from/to (one hour, 15 days ago)', `${logs}?from=${encodeURIComponent(hourFrom)}&to=${encodeURIComponent(hourTo)}&limit=${RARE_PAGE}`],
    ['logs: error=timeout (frequent)', `${logs}?error=timeout`],
    ['logs: error=certificate (rare)', `${logs}?error=certificate`],
    ['logs: error_kind=timeout (frequent)', `${logs}?error_kind=timeout`, { needs: 'error_kind' }],
    ['logs: error_kind=tls (rare)', `${logs}?error_kind=tls&limit=${RARE_PAGE}`, { needs: 'error_kind' }],
    ['logs: error text found nowhere', `${logs}?error=${encodeURIComponent('no such error text')}`],
    ['logs: page=200 (deprecated OFFSET paging, exact total)', `${logs}?page=200`, { needs: 'page' }],
    ['handler logs tab', tab],
    ['handler logs tab: next page (cursor)', tab, { cursorOf: tab }],
    ['handler logs tab: status=fail', `${tab}?status=fail`],
    ['GET /events/{id} (delivered)', `/api/v1/events/${mid}`],
    ['GET /events/{id} (archive target down)', `/api/v1/events/${p.events - 5}`],
  ];
  // Any other list with a cursor the service offers (events, deliveries, audit …), first page.
  for (const [path, item] of Object.entries(docs.paths)) {
    if (!item.get || path.includes('execution-logs') || !(item.get.parameters ?? []).some((param) => param.name === 'cursor' && param.in === 'query')) continue;
    const concrete = path.replace(/\{[^}]+\}/g, () => (path.startsWith('/api/v1/handlers/') ? refs.busy.id : mid));
    list.push([`GET ${path}`, concrete]);
  }
  list.push(['GET /metrics', '/metrics']);
  return list.filter(([, , options]) => !options?.needs || logParams.has(options.needs));
}

/**
 * Times every query on every size, call by call in turn (10,000 rows, then 1,000,000, then
 * 10,000,000, then again), so a slow minute of a shared machine lands on every size alike and
 * the ratios between sizes measure the tables, not when each size happened to be timed. The
 * sizes share the machine's caches (and on MariaDB one buffer pool), as the databases of one
 * server do. Each query on each size: two untimed calls (the first one's time kept as `coldMs`),
 * then `requests` calls; p50/p99 of those. A query whose warm call takes over a second on a size
 * is called 5 times there only, so the other sizes' last calls of it run without it between.
 * `sizes`: each with its running API service, its key, its plan and its refs. Answers the
 * results of each size by label, in the order of `sizes`.
 */
export async function timeQueriesInTurn(sizes, { requests, log }) {
  const lists = await Promise.all(sizes.map((size) => queryList(size.api, size.key, size.p, size.refs)));
  const results = sizes.map(() => ({}));
  for (const [index, [label]] of lists[0].entries()) {
    // Each size's url (a cursor is that size's own), its cold call and a warm one.
    const timed = [];
    for (const [s, size] of sizes.entries()) {
      const [named, path, options] = lists[s][index];
      if (named !== label) throw new Error(`scale: the query lists of the sizes differ (${named} where ${label} was expected)`);
      let url = `${size.api.url}${path}`;
      if (options?.cursorOf) {
        const first = await getJson(`${size.api.url}${options.cursorOf}`, size.key);
        const cursor = JSON.parse(first.text).next_cursor;
        if (!cursor) {
          results[s][label] = { skipped: 'no next page' };
          continue;
        }
        url += `${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`;
      }
      const cold = await getJson(url, size.key);
      if (cold.status !== 200) {
        results[s][label] = { path, error: `${cold.status} ${cold.text.slice(0, 200)}` };
        log(`    ${size.rows.toLocaleString('en-US')}: ${label}: ${cold.status}`);
        continue;
      }
      const warm = await getJson(url, size.key);
      // A call of over a second (OFFSET paging deep in a large table) is timed 5 times, not `requests`.
      const n = warm.ms > 1000 ? Math.min(5, requests) : requests;
      timed.push({ s, path, url, key: size.key, n, cold, ok: warm.status === 200 ? warm : cold, times: [], failed: [] });
    }
    for (let i = 0; i < requests; i++) {
      for (const t of timed) {
        if (i >= t.n) continue;
        // A call the service cuts (its database query timeout answers 503) is counted, not timed.
        const answer = await getJson(t.url, t.key);
        if (answer.status === 200) {
          t.times.push(answer.ms);
          t.ok = answer;
        } else t.failed.push(`${answer.status} after ${round(answer.ms)} ms: ${answer.text.slice(0, 120)}`);
      }
    }
    for (const t of timed) {
      if (t.times.length === 0) {
        results[t.s][label] = { path: t.path, error: t.failed[0] };
        log(`    ${sizes[t.s].rows.toLocaleString('en-US')}: ${label}: ${t.failed[0]}`);
        continue;
      }
      const q = summarize(t.times);
      const body = t.path === '/metrics' ? null : JSON.parse(t.ok.text);
      results[t.s][label] = { path: t.path, count: q.count, p50: q.p50, p99: q.p99, coldMs: round(t.cold.ms, 1), items: Array.isArray(body?.items) ? body.items.length : undefined };
      if (t.failed.length > 0) Object.assign(results[t.s][label], { failed: t.failed.length, firstFailure: t.failed[0] });
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// One database, one size
// ---------------------------------------------------------------------------------------------

/** A fresh database with the service's tables (its migrations) and the handlers (its API); the service is stopped again. */
export async function prepare(kind, serverUrl, receiver, types) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({ databaseUrl: db.url, key, env: { ...SERVICE_ENV, INSTANCE_ROLE: 'api' } });
  const handlers = [];
  try {
    const api = adminClient(service, key);
    for (const [family, pattern] of types.families.entries()) {
      for (const [index, role] of ROLES.entries()) {
        const created = await api('POST', '/api/v1/handlers', {
          name: `${role} (${pattern})`,
          event: pattern,
          type: 'http',
          task: `127.0.0.1:${receiver.port}/${role}`,
          priority: index + 1,
        });
        handlers.push({ id: created.id, name: created.name, family, pattern, seq: index + 1 });
      }
    }
  } finally {
    await service.stop();
  }
  return { db, key, handlers };
}

/** Opens the database for the fill (the service is stopped). */
export async function open(db) {
  if (db.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const conn = new Database(db.url.slice('sqlite:'.length));
    return { kind: 'sqlite', conn, close: async () => conn.close() };
  }
  const conn = await createConnection({ uri: db.url.replace(/^mariadb:/, 'mysql:') });
  return { kind: db.kind, conn, close: () => conn.end(), another: () => open(db) };
}

/**
 * Fresh deliveries through the queue: `events` clients.update events (3 deliveries each) posted
 * by an API instance, then a worker drains them; deliveries per second from the first arrival
 * at the receiver to the last. Their objects are new, so nothing filled holds them back.
 */
async function dispatchRun({ db, key, receiver, deliveries, concurrency, api: apiService, firstObjectId }) {
  const events = Math.ceil(deliveries / 3);
  const total = events * 3;
  try {
    await preload(adminClient(apiService, key), events, firstObjectId);
  } finally {
    await apiService.stop();
  }
  await receiver.ask('reset', { target: total });
  const reached = receiver.reached();
  const started = now();
  const worker = await startService({ databaseUrl: db.url, key, env: { ...SERVICE_ENV, INSTANCE_ROLE: 'worker', DISPATCH_CONCURRENCY: String(concurrency) } });
  let arrival;
  try {
    const limitMs = Math.max(120_000, total * 10);
    let timer;
    arrival = await Promise.race([reached, new Promise((done) => (timer = setTimeout(done, limitMs, null)))]);
    clearTimeout(timer);
    if (!arrival) {
      const { count } = await receiver.ask('stats');
      throw new Error(`scale dispatch: ${count} of ${total} deliveries arrived within ${limitMs / 1000} s`);
    }
  } finally {
    await worker.stop();
  }
  const seconds = (arrival.at - arrival.first) / 1000;
  return { deliveries: total, seconds: round(seconds, 2), 'deliveries/s': round((total - 1) / seconds), firstArrivalAfterStartMs: round(arrival.first - started) };
}

/**
 * Dispatch with the tables full ÷ on empty tables, in the same minutes: `repeats` pairs, each an
 * empty database (the same handlers, nothing filled) and then the full one; medians of each side.
 * Alternating keeps a neighbour's burst from landing on one side only.
 */
async function dispatchPairs({ kind, serverUrl, receiver, types, db, key, deliveries, concurrency, repeats }) {
  const full = [];
  const empty = [];
  for (let r = 0; r < repeats; r++) {
    const fresh = await prepare(kind, serverUrl, receiver, types);
    try {
      const api = await startService({ databaseUrl: fresh.db.url, key: fresh.key, env: { ...SERVICE_ENV, INSTANCE_ROLE: 'api' } });
      empty.push(await dispatchRun({ db: fresh.db, key: fresh.key, receiver, deliveries, concurrency, api, firstObjectId: 1_000_000_000 }));
    } finally {
      await fresh.db.drop();
    }
    const api = await startService({ databaseUrl: db.url, key, env: { ...SERVICE_ENV, INSTANCE_ROLE: 'api' } });
    // New objects each round: nothing earlier holds them back.
    full.push(await dispatchRun({ db, key, receiver, deliveries, concurrency, api, firstObjectId: 1_000_000_000 + r * 1_000_000 }));
  }
  const median = (runs) => {
    const rates = runs.map((run) => run['deliveries/s']).sort((a, b) => a - b);
    return { median: rates[Math.floor((rates.length - 1) / 2)], min: rates[0], max: rates.at(-1) };
  };
  const f = median(full);
  const e = median(empty);
  return {
    deliveries: full[0].deliveries,
    repeats,
    'deliveries/s': f.median,
    emptyTables: e.median,
    ratioToEmpty: round(f.median / e.median, 3),
    spread: { full: { min: f.min, max: f.max }, empty: { min: e.min, max: e.max } },
    runs: { full, empty },
  };
}

/** One size: a fresh database filled to `rows` deliveries and measured on disk; the caller drops it. */
async function fillSize({ kind, name, serverUrl, receiver, types, rows, chunk, log }) {
  const began = performance.now();
  const { db, key, handlers } = await prepare(kind, serverUrl, receiver, types);
  try {
    const p = plan(rows);
    log(`  ${name} scale ${rows.toLocaleString('en-US')}: ${p.events.toLocaleString('en-US')} events, ${p.deliveries.toLocaleString('en-US')} deliveries (${p.pending.toLocaleString('en-US')} pending), ${p.logs.toLocaleString('en-US')} execution logs`);
    const conn = await open(db);
    let filled;
    let bytes;
    try {
      // A month-old table has a partition per day (MySQL/MariaDB): a page merges them all.
      const dayPartitions = await partitionHistoryByDay(conn, p);
      if (dayPartitions > 0) log(`    execution_logs: p_history split into ${dayPartitions} day partitions`);
      const fillBegan = performance.now();
      filled = await fill(conn, p, types, handlers, { log, chunk: kind === 'sqlite' ? chunk.sqlite : chunk.mysql });
      filled.totalSeconds = round((performance.now() - fillBegan) / 1000, 1);
      const bytesBegan = performance.now();
      bytes = await measureBytes(conn, p.deliveries);
      bytes.seconds = round((performance.now() - bytesBegan) / 1000, 1);
    } finally {
      await conn.close();
    }
    log(`    fill ${filled.totalSeconds} s; ${(bytes.totalBytes / 2 ** 20).toFixed(1)} MiB on disk (measured in ${bytes.seconds} s), ${(bytes.perMillionDeliveries / 2 ** 20).toFixed(1)} MiB per 1,000,000 deliveries`);
    const byFamily = (pattern, seq) => handlers.find((h) => h.pattern === pattern && h.seq === seq);
    const refs = { busy: byFamily('accounting.charges.*', 1), quiet: byFamily('email_rates_manager.*', 2), rareType: 'email_rates_manager.no_attachments' };
    return { rows, db, key, p, refs, filled, bytes, fillSeconds: round((performance.now() - began) / 1000, 1) };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/**
 * The part, on one database: every size filled first (their databases side by side), then the
 * queries timed on all sizes in turn (timeQueriesInTurn), then each size's dispatch pairs; ratios
 * to the first size.
 */
export async function runScale({ kind, name = kind, serverUrl, receiver, sizes, requests, dispatchDeliveries, dispatchRepeats = 3, concurrency, log, chunk = FILL_CHUNK }) {
  const types = await eventTypes();
  const filled = [];
  const runs = [];
  try {
    for (const rows of sizes) filled.push(await fillSize({ kind, name, serverUrl, receiver, types, rows, chunk, log }));
    const apis = [];
    let queries;
    try {
      for (const size of filled) apis.push(await startService({ databaseUrl: size.db.url, key: size.key, env: { ...SERVICE_ENV, INSTANCE_ROLE: 'api' } }));
      const began = performance.now();
      queries = await timeQueriesInTurn(
        filled.map((size, i) => ({ ...size, api: apis[i] })),
        { requests, log },
      );
      log(`  ${name}: queries of ${sizes.length} sizes timed in turn in ${round((performance.now() - began) / 1000, 1)} s; worst p99 ${filled.map((size, i) => `${size.rows.toLocaleString('en-US')}: ${Math.max(...Object.values(queries[i]).map((q) => q.p99 ?? 0))} ms`).join(', ')}`);
    } finally {
      for (const api of apis) await api.stop();
    }
    for (const [i, size] of filled.entries()) {
      const began = performance.now();
      const dispatch = await dispatchPairs({ kind, serverUrl, receiver, types, db: size.db, key: size.key, deliveries: dispatchDeliveries, concurrency, repeats: dispatchRepeats });
      log(`  ${name} scale ${size.rows.toLocaleString('en-US')}: dispatch ${dispatch['deliveries/s']} deliveries/s, on empty tables ${dispatch.emptyTables} (÷ ${dispatch.ratioToEmpty})`);
      runs.push({
        rows: size.rows,
        events: size.p.events,
        deliveries: size.p.deliveries,
        pendingDeliveries: size.p.pending,
        executionLogs: size.p.logs,
        fill: size.filled,
        bytes: size.bytes,
        queries: queries[i],
        dispatch,
        seconds: round(size.fillSeconds + (performance.now() - began) / 1000, 1),
      });
      await sleep(100);
    }
  } finally {
    for (const size of filled) await size.db.drop();
  }
  const base = runs[0];
  for (const run of runs) {
    for (const [label, q] of Object.entries(run.queries)) {
      const b = base.queries[label];
      if (q.p50 === undefined || !b?.p50) continue;
      q.ratio = { p50: round(q.p50 / b.p50, 2), p99: round(q.p99 / b.p99, 2) };
    }
  }
  return {
    baseRows: base?.rows,
    requestsPerQuery: requests,
    timedInTurn: true,
    eventTypes: types.types.length,
    handlers: types.families.length * ROLES.length,
    sizes: runs,
  };
}
