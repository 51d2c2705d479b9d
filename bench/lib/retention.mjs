// Retention under load: how fast one retention run removes a month's expired data, and what it
// does meanwhile to the latency of ingest and delivery.
//
// A fresh database is filled by SQL as the scale part fills it (./scale.mjs: events, 3
// deliveries each, 1.1 execution logs per delivery, over the 30 days before now), on MySQL/MariaDB
// with a partition for each past day, as the table has once the service has kept it for a month
// (the migration leaves one `p_history` partition, which retention would empty row by row
// instead). With LOG_RETENTION_DAYS=10 two thirds of it has expired. The service starts with a
// LOG_CLEANUP_CRON that fires once, at a second chosen when it is spawned (TZ=UTC, so the
// expression means what the bench computed); it gets no other way to start a run, and the
// benchmark adds no route for one.
//
// One open-loop stream of events (`rate` per second, to the three handlers of `clients.update`,
// all answered at once by the receiver) runs from before the run to its end; each event counts
// in the phase of its scheduled send time: "before" (quiet, the `beforeSeconds` before the run,
// less a second's guard) or "during" (from the cron's second to the run's end). For each phase:
// ingest latency (scheduled send → 202 read, so a stalled service cannot hide its queue) and 202
// → the body at the last of the three handlers, p50/p95/p99; events not delivered within the
// wait for stragglers count as slower than every one that was (their percentiles read null).
//
// The run's end: on MySQL/MariaDB the moment the service lets go of retention's named lock
// (src/retention/retention.service.ts, LOCK_NAME); on SQLite, where there is no such lock, the
// moment no execution log older than the cutoff is left up to the id where the run's walk ends
// (logs are the last table the run deletes from; audit rows are kept by default). Both are
// polled every 50 ms by the bench, on a connection of its own. Rows removed: the filled rows
// counted by SQL after the service stopped (ids 1..N are the fill's; the stream's come after),
// and those older than the cutoff still there (MariaDB: the logs of the day the cutoff falls in,
// whose partition goes once the whole day has expired). Nothing lost: the deliveries of every
// event accepted while the service ran are counted by status (3 per event, none failed).
//
// The service runs with its defaults otherwise: DISPATCH_CONCURRENCY, RETENTION_BATCH_SIZE,
// RETENTION_PAUSE_MS, LOG_LEVEL=warn as every part.
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { Pool } from 'undici';
import { clientUpdate, eventPoster, offer } from './latency.mjs';
import { eventTypes, fill, FILL_CHUNK, open, partitionHistoryByDay, plan, prepare } from './scale.mjs';
import { startService } from './service.mjs';
import { now, percentile, round, sleep } from './util.mjs';

const DAY = 86_400_000;
/** The event streamed; its family has the three handlers `prepare` made (crm-sync, billing-mirror, archive), priorities 1–3. */
const EVENT = 'clients.update';
const HANDLERS = 3;
/** Object ids of the warm-up and of the stream: far above the filled objects, so nothing filled holds them back. */
const WARMUP_ID = 1_000_000_000;
const STREAM_ID = 1_100_000_000;
/** Time the service gets to start on the filled database before the quiet phase must begin. */
const START_ALLOWANCE_MS = 10_000;
const WARMUP_MS = 1_000;
/** Events sent this close before the run count in neither phase. */
const GUARD_MS = 1_000;
const POLL_MS = 50;
/** Retention's named lock (src/retention/retention.service.ts): held by the instance running a retention run. */
const LOCK_NAME = "LEFT(CONCAT('provisioning-retention:', DATABASE()), 64)";

/** A cron expression (with seconds) that fires at `at` (a whole second, UTC) and then not for a year. */
export function cronAt(at) {
  const d = new Date(at);
  return `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} ${d.getUTCDate()} ${d.getUTCMonth() + 1} *`;
}

export async function runRetention({ kind, name = kind, serverUrl, receiver, rows, rate, beforeSeconds, retentionDays, settleSeconds, dispatchRate = null, log }) {
  const began = performance.now();
  const types = await eventTypes();
  const { db, key, handlers } = await prepare(kind, serverUrl, receiver, types);
  try {
    const p = plan(rows);
    log(`  ${name} retention: ${p.events.toLocaleString('en-US')} events, ${p.deliveries.toLocaleString('en-US')} deliveries, ${p.logs.toLocaleString('en-US')} execution logs over 30 days; LOG_RETENTION_DAYS=${retentionDays}`);
    const conn = await open(db);
    let filled;
    let partitionsBefore;
    let runAt;
    let lastExpiredLog;
    try {
      const dayPartitions = await partitionHistoryByDay(conn, p);
      if (dayPartitions > 0) log(`    execution_logs: p_history split into ${dayPartitions} day partitions`);
      const fillBegan = performance.now();
      filled = await fill(conn, p, types, handlers, { log, chunk: kind === 'sqlite' ? FILL_CHUNK.sqlite : FILL_CHUNK.mysql });
      filled.totalSeconds = round((performance.now() - fillBegan) / 1000, 1);
      partitionsBefore = await partitionNames(conn);
      // The run's second: late enough for the service to start, warm up and stream the quiet phase.
      runAt = Math.ceil((Date.now() + START_ALLOWANCE_MS + WARMUP_MS + beforeSeconds * 1000 + GUARD_MS) / 1000) * 1000;
      lastExpiredLog = await newestExpiredLog(conn, runAt - retentionDays * DAY);
    } finally {
      await conn.close();
    }
    const cutoff = runAt - retentionDays * DAY;
    const service = await startService({
      databaseUrl: db.url,
      key,
      env: { TZ: 'UTC', LOG_RETENTION_DAYS: String(retentionDays), LOG_CLEANUP_CRON: cronAt(runAt) },
    });
    const pool = new Pool(service.url, { connections: 64, keepAliveTimeout: 60_000 });
    let stream;
    let warmup;
    let run;
    try {
      if (Date.now() > runAt - GUARD_MS - WARMUP_MS) {
        throw new Error(`retention: the service took over ${START_ALLOWANCE_MS / 1000} s to start on the filled database; no quiet phase is left before the run`);
      }
      const post = eventPoster(pool, key, (id) => clientUpdate(id, EVENT));
      warmup = await offer(post, rate, WARMUP_MS / 1000, WARMUP_ID);
      // The quiet phase starts `beforeSeconds` before the run (later if the start took long: it is then shorter).
      await sleep(Math.max(500, runAt - GUARD_MS - beforeSeconds * 1000 - Date.now()));
      await receiver.ask('reset', { record: true });

      // The monotonic clock of the stream and the receiver, for the run's wall-clock second.
      const monotonic = (wall) => wall + (now() - Date.now());
      let stop = false;
      const streaming = offer(post, rate, null, STREAM_ID, { until: () => stop });
      try {
        run = await watchRun(db, { runAt, cutoff, lastExpiredLog, timeoutMs: Math.max(300_000, p.deliveries / 2) });
      } finally {
        stop = true;
        stream = await streaming;
      }
      run.startedAt = monotonic(runAt);
      run.endedAt = monotonic(run.endedAtWall);

      // Stragglers: every accepted event at all three handlers, or the wait is over.
      const expected = stream.accepted.size * HANDLERS;
      for (let waited = 0; waited < settleSeconds * 1000; waited += 100) {
        if ((await receiver.ask('stats')).count >= expected) break;
        await sleep(100);
      }
    } finally {
      await pool.close();
      await service.stop();
    }
    const { arrivals } = await receiver.ask('stats', { arrivals: true });

    const runSeconds = (run.endedAt - run.startedAt) / 1000;
    const firstBefore = Math.max(stream.started, run.startedAt - GUARD_MS - beforeSeconds * 1000);
    const delivered = deliveredAt(arrivals);
    const before = phase(stream, delivered, rate, firstBefore, run.startedAt - GUARD_MS);
    const during = phase(stream, delivered, rate, run.startedAt, run.endedAt);

    const after = await open(db);
    let counts;
    let partitionsAfter;
    try {
      counts = await countRows(after, p, cutoff);
      partitionsAfter = await partitionNames(after);
    } finally {
      await after.close();
    }
    // Every accepted event (warm-up and stream) has its deliveries stored; those not delivered when the service stopped are still queued, not lost.
    const acceptedEvents = warmup.accepted.size + stream.accepted.size;
    const stored = Object.values(counts.streamDeliveries).reduce((sum, n) => sum + n, 0);
    const removed = { events: p.events - counts.events, deliveries: filled.stored.deliveries - counts.deliveries, executionLogs: p.logs - counts.executionLogs };
    const perSecond = (n) => round(n / runSeconds);
    // The deliveries whose data the run cleared: each event removed stood for HANDLERS of them (the
    // queue rows of those not delivered went with it; a delivered one had left the queue already).
    const cleared = removed.events * HANDLERS;
    const dropped = partitionsBefore ? partitionsBefore.filter((partition) => !partitionsAfter.includes(partition)) : null;
    const result = {
      rows,
      filled: { events: p.events, deliveries: p.deliveries, executionLogs: p.logs },
      fillSeconds: filled.totalSeconds,
      retentionDays,
      offeredRate: rate,
      handlersPerEvent: HANDLERS,
      run: {
        seconds: round(runSeconds, 2),
        removed,
        deliveriesCleared: cleared,
        'deliveries/s': perSecond(cleared),
        'queueRows/s': perSecond(removed.deliveries),
        'events/s': perSecond(removed.events),
        'executionLogs/s': perSecond(removed.executionLogs),
        'rows/s': perSecond(removed.events + removed.deliveries + removed.executionLogs),
        ratioToDispatch: dispatchRate ? round(cleared / runSeconds / dispatchRate, 2) : null,
        dispatchRate,
        // Older than the run's cutoff and still there: on MySQL/MariaDB the logs of the day the cutoff falls in (its partition goes once its
        // newest row has expired); on SQLite none (the walk ends past every
        // row dated before the cutoff, see newestExpiredLog).
        leftBehind: counts.expired,
        logPartitionsDropped: dropped ? dropped.length : null,
        end: kind === 'sqlite' ? 'no execution log older than the cutoff left' : "retention's named lock let go",
      },
      stream: { acceptedEvents, deliveriesExpected: acceptedEvents * HANDLERS, deliveriesStored: stored, byStatus: counts.streamDeliveries, lost: acceptedEvents * HANDLERS - stored },
      before,
      during,
      p99Ratio: { ingest: ratioOf(during.ingest.p99_ms, before.ingest.p99_ms), delivered: ratioOf(during.delivered.p99_ms, before.delivered.p99_ms) },
      settleSeconds,
      seconds: round((performance.now() - began) / 1000, 1),
    };
    const ms = (v) => (v === null ? 'not delivered' : v);
    log(
      `    run ${result.run.seconds} s: cleared ${cleared.toLocaleString('en-US')} deliveries (${result.run['deliveries/s']}/s): ` +
        `${removed.events.toLocaleString('en-US')} events, ${removed.deliveries.toLocaleString('en-US')} queue rows, ${removed.executionLogs.toLocaleString('en-US')} execution logs${dropped ? ` (${dropped.length} day partitions dropped)` : ''}`,
    );
    for (const [label, ph] of [['before', before], ['during', during]]) {
      log(
        `    ${label}: ${ph.events} events in ${ph.seconds} s, ingest p99 ${ph.ingest.p99_ms} ms, 202 → delivered p50 ${ms(ph.delivered.p50_ms)} / p99 ${ms(ph.delivered.p99_ms)} ms ` +
          `(${ph.failures} failed posts, ${ph.missing} not delivered)`,
      );
    }
    return result;
  } finally {
    await db.drop();
  }
}

/**
 * The highest id of an execution log older than `cutoff`: the run's walk goes at least that far
 * (src/execution-logs/execution-logs.service.ts walkEndBefore ends it past every row dated before
 * the cutoff, by the late-write margin). Read along the primary key from the newest row, past
 * the rows that have not expired (no index on created_at since 1766000000000-ids-by-time.ts).
 */
async function newestExpiredLog(db, cutoff) {
  const statement = `SELECT id FROM execution_logs WHERE created_at < ${cutoff} ORDER BY id DESC LIMIT 1`;
  if (db.kind === 'sqlite') return db.conn.prepare(statement).get()?.id ?? null;
  const [[row]] = await db.conn.query(statement);
  return row === undefined ? null : Number(row.id);
}

/**
 * Waits for the run that the cron starts at `runAt` to end; answers when it ended (wall clock).
 * MySQL/MariaDB: retention's named lock, taken at the start of the run and let go at its end (a
 * run too short to be seen holding it has ended once no event older than the cutoff is left);
 * SQLite: no execution log older than the cutoff left up to `lastExpiredLog`, where the run's
 * walk ends (logs are the last table it deletes from).
 */
async function watchRun(db, { runAt, cutoff, lastExpiredLog, timeoutMs }) {
  const sqlite = db.kind === 'sqlite';
  const probe = sqlite ? new Database(db.url.slice('sqlite:'.length), { readonly: true, fileMustExist: true }) : await createConnection({ uri: db.url.replace(/^mariadb:/, 'mysql:') });
  const check = sqlite ? probe.prepare('SELECT EXISTS (SELECT 1 FROM execution_logs WHERE id <= ? AND created_at < ?) AS expired') : null;
  try {
    let seen = false;
    for (;;) {
      const at = Date.now();
      if (at > runAt + timeoutMs) throw new Error(`retention: the run that began at ${new Date(runAt).toISOString()} had not ended after ${timeoutMs / 1000} s`);
      if (sqlite) {
        if (at >= runAt && check.get(lastExpiredLog ?? 0, cutoff).expired === 0) return { endedAtWall: at };
      } else if (at >= runAt - 1000) {
        const [[lock]] = await probe.query(`SELECT IS_USED_LOCK(${LOCK_NAME}) AS owner`);
        if (lock.owner !== null) seen = true;
        else if (at >= runAt) {
          if (seen) return { endedAtWall: at };
          // Only while the lock is free: a probe of the index during the run would walk the entries InnoDB has not purged yet.
          const [[left]] = await probe.query('SELECT EXISTS (SELECT 1 FROM events WHERE accepted_at < ?) AS expired', [cutoff]);
          if (Number(left.expired) === 0) return { endedAtWall: at };
        }
      }
      await sleep(POLL_MS);
    }
  } finally {
    if (sqlite) probe.close();
    else await probe.end();
  }
}

/**
 * The stream's events scheduled in [from, to) (monotonic ms): ingest and 202 → delivered
 * percentiles, and the slowest 202 → delivered of each second of the phase (null: one was not
 * delivered), which tells a stall (a partition change waiting for its lock) from a slowdown.
 */
function phase(stream, delivered, rate, from, to) {
  const { accepted, started, sent } = stream;
  const first = Math.max(0, Math.ceil(((from - started) * rate) / 1000));
  const last = Math.min(sent, Math.ceil(((to - started) * rate) / 1000));
  const ingest = [];
  const latencies = [];
  const worstBySecond = [];
  let failures = 0;
  let missing = 0;
  for (let n = first; n < last; n++) {
    const id = STREAM_ID + n;
    const answeredAt = accepted.get(id);
    if (answeredAt === undefined) {
      failures += 1;
      continue;
    }
    ingest.push(answeredAt - (started + (n * 1000) / rate));
    const at = delivered.get(id);
    // Delivered before the 202 was read counts as 0 (./latency.mjs endToEnd).
    const latency = at === undefined ? Infinity : Math.max(0, at - answeredAt);
    if (at === undefined) missing += 1;
    else latencies.push(latency);
    const second = Math.floor((n - first) / rate);
    worstBySecond[second] = Math.max(worstBySecond[second] ?? 0, latency);
  }
  return {
    seconds: round(Math.max(0, last - first) / rate, 1),
    events: ingest.length,
    failures,
    missing,
    ingest: percentiles(ingest, 0),
    delivered: percentiles(latencies, missing),
    worstBySecond: Array.from(worstBySecond, (v) => (v === undefined ? null : Number.isFinite(v) ? Math.round(v) : null)),
  };
}

/** Object id → when its body reached the last of the event's handlers (they run one after another), from the receiver's arrivals (flat pairs: id, time). */
function deliveredAt(arrivals) {
  const seen = new Map();
  const at = new Map();
  for (let i = 0; i < arrivals.length; i += 2) {
    const n = (seen.get(arrivals[i]) ?? 0) + 1;
    seen.set(arrivals[i], n);
    if (n === HANDLERS) at.set(arrivals[i], arrivals[i + 1]);
  }
  return at;
}

/** p50/p95/p99/max in ms; `missing` values count as later than all the others (percentiles they reach read null). */
function percentiles(values, missing) {
  const sorted = Float64Array.from([...values, ...Array(missing).fill(Infinity)]).sort();
  const at = (p) => {
    const value = percentile(sorted, p);
    return value === null || !Number.isFinite(value) ? null : Math.round(value * 100) / 100;
  };
  return { p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), max_ms: at(100) };
}

const ratioOf = (value, base) => (value === null || base === null ? null : Math.round((value / Math.max(base, 0.01)) * 100) / 100);

/** The filled rows still there (ids 1..N are the fill's), how many rows older than the cutoff are left in each table, and the stream's deliveries. */
async function countRows(db, p, cutoff) {
  const queries = {
    events: [`SELECT COUNT(*) AS n FROM events WHERE id <= ${p.events}`, `SELECT COUNT(*) AS n FROM events WHERE accepted_at < ${cutoff}`],
    deliveries: [`SELECT COUNT(*) AS n FROM deliveries WHERE id <= ${p.deliveries}`, `SELECT COUNT(*) AS n FROM deliveries WHERE created_at < ${cutoff}`],
    executionLogs: [`SELECT COUNT(*) AS n FROM execution_logs WHERE id <= ${p.logs}`, `SELECT COUNT(*) AS n FROM execution_logs WHERE created_at < ${cutoff}`],
  };
  const one = async (statement) => {
    if (db.kind === 'sqlite') return Number(db.conn.prepare(statement).get().n);
    const [[row]] = await db.conn.query(statement);
    return Number(row.n);
  };
  const counts = { expired: {}, streamDeliveries: {} };
  for (const [table, [kept, expired]] of Object.entries(queries)) {
    counts[table] = await one(kept);
    counts.expired[table] = await one(expired);
  }
  // The deliveries of the events posted while the service ran (ids after the fill's), by status.
  const byStatus = `SELECT status, COUNT(*) AS n FROM deliveries WHERE id > ${p.deliveries} GROUP BY status`;
  const rows = db.kind === 'sqlite' ? db.conn.prepare(byStatus).all() : (await db.conn.query(byStatus))[0];
  for (const row of rows) counts.streamDeliveries[row.status] = Number(row.n);
  // A delivery that succeeded has left the queue (a build from before that keeps it, counted above): its success log row tells it.
  const delivered = `SELECT COUNT(DISTINCT l.delivery_id) AS n FROM execution_logs l
    WHERE l.delivery_id > ${p.deliveries} AND l.status = 'success' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = l.delivery_id)`;
  const left = await one(delivered);
  if (left > 0) counts.streamDeliveries.succeeded = (counts.streamDeliveries.succeeded ?? 0) + left;
  return counts;
}

/** MySQL/MariaDB: the names of the partitions of execution_logs; null on SQLite. */
async function partitionNames(db) {
  if (db.kind === 'sqlite') return null;
  const [rows] = await db.conn.query(
    "SELECT PARTITION_NAME AS name FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execution_logs' AND PARTITION_NAME IS NOT NULL",
  );
  return rows.map((row) => row.name);
}
