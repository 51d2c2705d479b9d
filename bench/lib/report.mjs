// The figures as tables on stdout, the targets of the benchmark issue checked against them,
// and the machine they came from.
import { execSync } from 'node:child_process';
import { cpus, totalmem, release } from 'node:os';
import { readFileSync } from 'node:fs';

export function machine(mysqlVersion) {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {}
  let nproc = cpus().length;
  try {
    nproc = Number(execSync('nproc', { encoding: 'utf8' }).trim());
  } catch {}
  return {
    nproc,
    cpu,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    mysql: mysqlVersion,
  };
}

export function commit() {
  try {
    const sha = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    const dirty = execSync("git status --porcelain -- src bench ':!bench/results'", { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return null;
  }
}

const cell = (results, name, connections) => results?.ingest?.cells[name].find((c) => c.connections === connections);

/** Every target of the issue, checked against the figures of this run. */
export function targets(runs, cache, topConcurrency) {
  const list = [];
  const add = (name, db, value, target, met) => list.push({ target: name, database: db, value, goal: target, met: value === null || value === undefined ? null : met });
  for (const [db, r] of Object.entries(runs)) {
    const mysql = db !== 'sqlite';
    if (r.dispatch) {
      if (mysql) add('dispatch deliveries/s (3 handlers per event)', db, r.dispatch['deliveries/s'], '>= 5,000', r.dispatch['deliveries/s'] >= 5000);
      add('dispatch ÷ undici baseline', db, r.dispatch.ratio.undici, '>= 0.30', r.dispatch.ratio.undici >= 0.3);
      add('peak RSS during dispatch, MB', db, r.dispatch.memory.peakRssMb, '< 250', r.dispatch.memory.peakRssMb < 250);
    }
    if (r.peers && !r.peers.skipped) {
      const axios = r.peers.ratios['bullmq-axios'].median;
      const undici = r.peers.ratios['bullmq-undici'].median;
      add('dispatch ÷ BullMQ + @nestjs/axios (same rounds)', db, axios, '>= 3', axios >= 3);
      add('dispatch ÷ BullMQ + undici (same rounds)', db, undici, '>= 1.5', undici >= 1.5);
    }
    if (r.ingest) {
      const single = cell(r, 'single', topConcurrency);
      const empty = cell(r, 'empty', topConcurrency);
      const batch = cell(r, 'batch', topConcurrency);
      const goal = mysql ? 4000 : 5000;
      add(`single ingest events/s, c=${topConcurrency}`, db, single?.['events/s'], `>= ${goal.toLocaleString('en-US')}`, single?.['events/s'] >= goal);
      const ratio = single && empty ? Math.round((single['events/s'] / empty['events/s']) * 1000) / 1000 : null;
      add(`single ingest ÷ empty route, c=${topConcurrency}`, db, ratio, '>= 0.60', ratio >= 0.6);
      if (mysql) add(`batch ingest events/s, c=${topConcurrency}`, db, batch?.['events/s'], '>= 15,000', batch?.['events/s'] >= 15000);
    }
    if (r.scale?.sizes?.length) {
      const top = r.scale.sizes.at(-1);
      const rows = top.rows.toLocaleString('en-US');
      const timed = Object.entries(top.queries).filter(([label, q]) => typeof q.p99 === 'number' && !label.includes('deprecated'));
      if (timed.length > 0) {
        const [worstLabel, worst] = timed.reduce((a, b) => (b[1].p99 > a[1].p99 ? b : a));
        add(`scale: worst p99 of the lists, filters, events and metrics at ${rows} rows, ms (${worstLabel})`, db, worst.p99, '<= 100 (at 10,000,000)', worst.p99 <= 100);
        if (r.scale.sizes.length > 1) {
          const [ratioLabel, ratio] = timed.filter(([, q]) => q.ratio).reduce((a, b) => (b[1].ratio.p99 > a[1].ratio.p99 ? b : a), ['', { ratio: { p99: null } }]);
          add(`scale: worst p99 at ${rows} rows ÷ at ${r.scale.baseRows.toLocaleString('en-US')} (${ratioLabel})`, db, ratio.ratio.p99, '<= 2', ratio.ratio.p99 <= 2);
        }
      }
      add(`scale: dispatch with ${rows} rows ÷ on empty tables`, db, top.dispatch.ratioToEmpty, '>= 0.90', top.dispatch.ratioToEmpty >= 0.9);
    }
    if (r.latency) {
      add('202 → handler p50 ms at 500 events/s', db, r.latency.endToEnd.p50_ms, '< 10', r.latency.endToEnd.p50_ms < 10);
      add('202 → handler p99 ms at 500 events/s', db, r.latency.endToEnd.p99_ms, '< 50', r.latency.endToEnd.p99_ms < 50);
    }
    if (r.neighbour) {
      // Events that never arrived within the wait make the ratio a lower bound, and the target missed.
      const n = r.neighbour;
      const value = n.p99Ratio ?? (n.p99RatioAtLeast === null ? null : `> ${n.p99RatioAtLeast}`);
      add(`healthy p99 beside a target that never answers ÷ alone, ${n.offeredRate} events/s`, db, value, '<= 2', n.p99Ratio !== null && n.p99Ratio <= 2);
    }
    if (r.retention) {
      // The issue's goal for retention's batched deletes: keep pace with twice the dispatch rate, measured in the same run.
      const t = r.retention.run;
      if (t.ratioToDispatch !== null) add(`retention: deliveries cleared/s ÷ dispatch deliveries/s of the same run, ${r.retention.offeredRate} events/s posted`, db, t.ratioToDispatch, '>= 2', t.ratioToDispatch >= 2);
      else add(`retention: deliveries cleared/s, ${r.retention.offeredRate} events/s posted (no dispatch part in the run to compare with)`, db, t['deliveries/s'], '>= 2 × dispatch', null);
    }
  }
  if (cache) add('cache lookup, 10,000 ÷ 10 handlers', '-', cache.ratio, 'same (<= 1.25)', cache.ratio <= 1.25);
  return list;
}

/**
 * What the machine's cores leave for the service at each throughput goal of the same run: at the
 * goal's rate, `cores` seconds of CPU per second spread over the deliveries (or events) give
 * `budget` µs of CPU to each, for every process together, with every core busy all the time.
 * Take away what this run's other processes spent on each (the database server or the load
 * generator, the receiver), and what is left is the most the service could spend; `service` is
 * what it spent, and `serviceCores` how many cores it would keep busy at the goal's rate;
 * `coresBusy`, how many the run kept busy at the rate it reached (all processes). A goal whose
 * `left` is below what any build of the service must spend (`reference`: the call alone, the bare
 * undici loop's sender; or the same app's empty route) cannot be met on this machine.
 */
export function cpuBudgets(runs, cores, topConcurrency) {
  const list = [];
  const add = (db, goal, rate, others, service, reached, reference) => {
    if (!(rate > 0) || others.some((v) => typeof v !== 'number') || typeof service !== 'number') return;
    const budget = (cores * 1e6) / rate;
    const spent = others.reduce((a, b) => a + b, 0);
    const coresBusy = round2(((service + spent) * reached) / 1e6);
    list.push({ database: db, goal, rate: Math.round(rate), budget: round1(budget), others: round1(spent), left: round1(budget - spent), service, serviceCores: round2((service * rate) / 1e6), coresBusy, reference });
  };
  for (const [db, r] of Object.entries(runs)) {
    const p = r.peers;
    if (p && !p.skipped) {
      const d = p.summary.dispatch.cpu;
      // The database server's CPU is null on SQLite (none runs); the call alone: the loop's sender.
      const others = [d.server.median ?? 0, d.receiver.median];
      const call = p.summary['undici-loop'].cpu.sender.median;
      for (const [key, factor, name] of [['bullmq-axios', 3, 'BullMQ + @nestjs/axios'], ['bullmq-undici', 1.5, 'BullMQ + undici']]) {
        add(db, `dispatch ${factor} × ${name}`, p.summary[key].rate * factor, others, d.sender.median, p.summary.dispatch.rate, { label: "the call alone: the undici loop's sender", us: call });
      }
    }
    const single = r.ingest ? cell(r, 'single', topConcurrency) : null;
    const empty = r.ingest ? cell(r, 'empty', topConcurrency) : null;
    if (single && empty) {
      const others = [single.cpu_us.server ?? 0, single.cpu_us.generator];
      add(db, `single ingest 0.6 × empty route, c=${topConcurrency}`, empty['events/s'] * 0.6, others, single.cpu_us.service, single['events/s'], { label: "the same app's empty route", us: empty.cpu_us.service });
    }
  }
  return list;
}

const round1 = (v) => Math.round(v * 10) / 10;
const round2 = (v) => Math.round(v * 100) / 100;

export const PEERS = [
  ['dispatch', 'dispatch (this service: durable queue, execution log)'],
  ['bullmq-axios', 'BullMQ + Nest worker, @nestjs/axios'],
  ['bullmq-undici', 'BullMQ + Nest worker, undici'],
  ['undici-loop', 'bare undici loop'],
];

/** min–max of a cell's rounds (ingest keeps every round's rate). */
const roundsRange = (c) => (c.rounds?.length > 1 ? { min: Math.min(...c.rounds), max: Math.max(...c.rounds) } : null);
/** min–max over a part's runs (dispatch keeps every run). */
const runsRange = (d, pick) => {
  const values = (d.runs ?? []).map(pick).filter((v) => typeof v === 'number');
  return values.length > 1 ? { min: Math.min(...values), max: Math.max(...values) } : null;
};
const withRange = (value, range) => (range && range.min !== null && range.min !== range.max ? `${fmt(value)} [${fmt(range.min)}–${fmt(range.max)}]` : fmt(value));
const fmt = (value) => (typeof value === 'number' ? value.toLocaleString('en-US', { maximumFractionDigits: 3 }) : value ?? '—');

export function printTables(runs, cache, list, budgets = []) {
  for (const [db, r] of Object.entries(runs)) {
    if (r.ingest) {
      console.log(
        `\nIngest on ${db} (${r.ingest.handlersPerEvent} handlers per event, INSTANCE_ROLE=api, batches of ${r.ingest.batchSize}; ` +
          `median [min–max] of ${r.ingest.rounds} round(s) of ${r.ingest.secondsPerRound} s):`,
      );
      const rows = [];
      for (const [name, label] of [['empty', 'empty route'], ['single', 'POST /events'], ['filtered', 'POST /events, filtered handlers'], ['batch', 'POST /events/batch']]) {
        for (const c of r.ingest.cells[name] ?? []) {
          rows.push({
            route: label,
            concurrency: c.connections,
            'events/s': withRange(c['events/s'], roundsRange(c)),
            'requests/s': fmt(c['requests/s']),
            'p50 ms': fmt(c.p50_ms),
            'p99 ms': fmt(c.p99_ms),
            'service CPU µs/event': fmt(c.cpu_us.service),
            'db server CPU µs/event': fmt(c.cpu_us.server),
            errors: c.errors,
          });
        }
      }
      const h = r.ingest.health;
      if (h) {
        rows.push({
          route: 'GET /health',
          concurrency: h.connections,
          'events/s': '—',
          'requests/s': withRange(h['requests/s'], roundsRange(h)),
          'p50 ms': fmt(h.p50_ms),
          'p99 ms': fmt(h.p99_ms),
          'service CPU µs/event': fmt(h.cpu_us.service),
          'db server CPU µs/event': '—',
          errors: h.errors,
        });
      }
      if (rows.length > 0) console.table(rows);
      for (const route of ['logging', 'tracing']) {
        const g = r.ingest[route];
        if (!g) continue;
        const variants = g.variants ?? g.levels;
        console.log(
          `\n${g.title ?? 'logging cost'} on ${db}: POST /events at c=${g.connections}, two services differing only in ${route === 'tracing' ? 'OTEL_* (on: every span exported as OTLP/HTTP JSON to a local sink)' : 'LOG_LEVEL (JSON lines)'}, ` +
            `taking turns; median [min–max] of ${g.rounds} round(s) of ${g.secondsPerRound} s:`,
        );
        console.table(
          Object.entries(variants).map(([label, c]) => ({
            [route === 'tracing' ? 'tracing' : 'LOG_LEVEL']: label === 'log' ? 'log (default)' : label === 'off' ? 'off (default)' : label,
            'events/s': withRange(c['events/s'], roundsRange(c)),
            'p50 ms': fmt(c.p50_ms),
            'p99 ms': fmt(c.p99_ms),
            'service CPU µs/event': fmt(c.cpu_us.service),
            errors: c.errors,
          })),
        );
        console.log(`  ${g.ratioLabel ?? 'default ÷ silent'}: ${withRange(g.ratio.median, g.ratio)} (per round: ${g.ratio.rounds.map(fmt).join(', ')})`);
      }
    }
    if (r.dispatch) {
      const d = r.dispatch;
      console.log(
        `\nDispatch on ${db}: ${fmt(d.deliveries)} deliveries (${fmt(d.events)} events × ${d.handlersPerEvent} handlers), concurrency ${d.concurrency}; ` +
          `median [min–max] of ${d.repeats} run(s), each with its own baselines${d.loopSeconds ? ` (loops of at least ${d.loopSeconds} s)` : ''}:`,
      );
      console.table([
        {
          sender: 'dispatcher (queue → receiver)',
          'per second': withRange(d['deliveries/s'], runsRange(d, (run) => run['deliveries/s'])),
          'dispatch ÷ this': 1,
          'sender CPU µs/POST': fmt(d.cpu.serviceUsPerDelivery),
          'db server CPU µs/POST': fmt(d.cpu.databaseServerUsPerDelivery),
          'receiver CPU µs/POST': fmt(d.cpu.receiverUsPerDelivery),
        },
        {
          sender: 'baseline (a): undici Pool loop',
          'per second': withRange(d.baselines['undici/s'], runsRange(d, (run) => run.baselines['undici/s'])),
          'dispatch ÷ this': fmt(d.ratio.undici),
          'sender CPU µs/POST': fmt(d.cpu.baselineSenderUsPerPost.undici),
          'db server CPU µs/POST': '—',
          'receiver CPU µs/POST': fmt(d.cpu.baselineReceiverUsPerPost),
        },
        {
          sender: "baseline (b): the dispatcher's client loop",
          'per second': withRange(d.baselines['dispatcher-client/s'], runsRange(d, (run) => run.baselines['dispatcher-client/s'])),
          'dispatch ÷ this': fmt(d.ratio['dispatcher-client']),
          'sender CPU µs/POST': fmt(d.cpu.baselineSenderUsPerPost['dispatcher-client']),
          'db server CPU µs/POST': '—',
          'receiver CPU µs/POST': '—',
        },
      ]);
      console.log(`  peak RSS of the service ${fmt(d.memory.peakRssMb)} MB; ${fmt(d.check.succeeded)} deliveries succeeded, ${fmt(d.check.logged)} logged`);
    }
    if (r.peers?.skipped) console.log(`\nPeers on ${db}: skipped (${r.peers.skipped})`);
    else if (r.peers) {
      const p = r.peers;
      console.log(
        `\nPeers on ${db}: ${fmt(p.deliveries)} deliveries (${fmt(p.events)} events × ${p.handlersPerEvent}), concurrency ${p.concurrency}, ` +
          `undici loop ${p.loopSeconds} s per round; ${p.rounds} round(s), order rotating; median [min–max] of the rounds; ` +
          `ratios and efficiency: medians of the per-round values:`,
      );
      const range = (v) => (v.min === null ? '—' : `${fmt(v.median)} [${fmt(v.min)}–${fmt(v.max)}]`);
      console.table(
        PEERS.map(([key, label]) => {
          const c = p.summary[key];
          return {
            contender: label,
            'per second': `${fmt(c.rate)} [${fmt(c.min)}–${fmt(c.max)}]`,
            'dispatch ÷ this': key === 'dispatch' ? 1 : `${fmt(p.ratios[key].median)} [${fmt(p.ratios[key].min)}–${fmt(p.ratios[key].max)}]`,
            'sender CPU µs': range(c.cpu.sender),
            'db/redis CPU µs': range(c.cpu.server),
            'receiver CPU µs': range(c.cpu.receiver),
            'all CPU µs': range(c.cpu.total),
            'sender ÷ loop sender CPU': key === 'undici-loop' ? 1 : fmt(p.efficiency[key].median),
          };
        }),
      );
      const e = p.efficiency.dispatch;
      console.log(`  efficiency: service CPU per delivery ÷ bare undici sender CPU per POST = ${fmt(e.median)} [${fmt(e.min)}–${fmt(e.max)}]; load average ${fmt(p.loadAverage.min)}–${fmt(p.loadAverage.max)}`);
    }
    if (r.latency) {
      const l = r.latency;
      console.log(`\nEnd-to-end latency on ${db}: ${fmt(l.events)} events at ${l.offeredRate}/s, ${l.handlersPerEvent} handler:`);
      console.table([
        { from: '202 read → body at handler', ...Object.fromEntries(Object.entries(l.endToEnd).map(([k, v]) => [k, fmt(v)])) },
        { from: 'scheduled send → 202 read', ...Object.fromEntries(Object.entries(l.accept).map(([k, v]) => [k, fmt(v)])) },
      ]);
    }
  }
  for (const [db, r] of Object.entries(runs)) {
    if (!r.neighbour) continue;
    const n = r.neighbour;
    const row = (label, p) => ({ handlers: label, events: p.events, 'not arrived': p.missing, 'p50 ms': fmt(p.p50_ms ?? '>wait'), 'p95 ms': fmt(p.p95_ms ?? '>wait'), 'p99 ms': fmt(p.p99_ms ?? '>wait') });
    console.log(
      `\nNoisy neighbour on ${db}: ${n.offeredRate} events/s for ${n.seconds} s to ${n.healthyHandlers} healthy handlers, DISPATCH_CONCURRENCY ${n.concurrency}; ` +
        `beside: ${n.badDeliveriesQueued} deliveries queued to a target that never answers (timeout ${n.badHandler.timeout_ms} ms); wait for stragglers ${n.settleSeconds} s:`,
    );
    const rounds = n.roundResults ?? [{ alone: n.alone, beside: n.beside }];
    console.table(rounds.flatMap((r, i) => [row(`round ${i + 1} alone`, r.alone), row(`round ${i + 1} beside the bad target`, r.beside)]));
    const spread = n.roundRatios?.length > 1 ? `; each round's ratio: ${n.roundRatios.join(', ')}` : '';
    console.log(`  median p99 beside ÷ median p99 alone: ${n.p99Ratio ?? `more than ${n.p99RatioAtLeast}`} (target <= 2)${spread}`);
  }
  for (const [db, r] of Object.entries(runs)) if (r.retention) printRetention(db, r.retention);
  for (const [db, r] of Object.entries(runs)) if (r.scale?.sizes?.length) printScale(db, r.scale);
  if (cache) {
    console.log('\nHandler cache lookup:');
    console.table(Object.entries(cache).filter(([k]) => k !== 'ratio').map(([size, v]) => ({ handlers: Number(size), ...v })));
  }
  console.log('\nTargets:');
  console.table(list.map((t) => ({ target: t.target, database: t.database, value: fmt(t.value), goal: t.goal, met: t.met === null ? '—' : t.met ? 'yes' : 'NO' })));
  if (budgets.length > 0) {
    console.log('\nCPU per delivery (or event) the cores allow at each throughput goal, all processes together, every core busy (cpuBudgets):');
    console.table(
      budgets.map((b) => ({
        goal: b.goal,
        database: b.database,
        'rate at goal /s': fmt(b.rate),
        'budget µs': fmt(b.budget),
        'others spent µs': fmt(b.others),
        'left for service µs': fmt(b.left),
        'service spent µs': fmt(b.service),
        'service cores at goal': fmt(b.serviceCores),
        'cores busy in the run': fmt(b.coresBusy),
        [`of which fixed µs`]: `${fmt(b.reference.us)} (${b.reference.label})`,
      })),
    );
  }
}

const mib = (bytes) => (typeof bytes === 'number' ? fmt(Math.round((bytes / 2 ** 20) * 10) / 10) : '—');

/** Scale: one row per query, one column per size: p50 / p99 ms, and for the larger sizes their ratio to the first. */
function printScale(db, s) {
  const sizes = s.sizes;
  const head = (run) => `${fmt(run.rows)} rows`;
  console.log(
    `\nScale on ${db}: tables filled by SQL to ${sizes.map((run) => fmt(run.rows)).join(', ')} deliveries (events a third, execution logs 1.1 per delivery, ` +
      `a tenth pending for later); p50 / p99 ms of ${s.requestsPerQuery} calls ${s.timedInTurn ? 'taken in turn with the other sizes, call by call' : 'in a row'} (5 when a call takes over 1 s), then [× the ${fmt(s.baseRows)}-row figures]:`,
  );
  const labels = [...new Set(sizes.flatMap((run) => Object.keys(run.queries)))];
  const rows = labels.map((label) => {
    const row = { query: label };
    for (const run of sizes) {
      const q = run.queries[label];
      row[head(run)] = !q
        ? '—'
        : q.error
          ? `error ${q.error.slice(0, 3)}`
          : q.skipped
            ? q.skipped
            : `${fmt(q.p50)} / ${fmt(q.p99)}${q.ratio && run !== sizes[0] ? ` [×${fmt(q.ratio.p50)} / ×${fmt(q.ratio.p99)}]` : ''}${q.failed ? ` (${q.failed} failed)` : ''}`;
    }
    return row;
  });
  const line = (query, pick) => Object.fromEntries([['query', query], ...sizes.map((run) => [head(run), pick(run)])]);
  const spread = (v, range) => (range.min === range.max ? fmt(v) : `${fmt(v)} (${fmt(range.min)}–${fmt(range.max)})`);
  rows.push(line('dispatch, deliveries/s', (run) => spread(run.dispatch['deliveries/s'], run.dispatch.spread.full)));
  rows.push(line('dispatch on empty tables, same minutes', (run) => spread(run.dispatch.emptyTables, run.dispatch.spread.empty)));
  rows.push(line('dispatch, full ÷ empty', (run) => fmt(run.dispatch.ratioToEmpty)));
  rows.push(line('bytes on disk per 1,000,000 deliveries, MiB', (run) => mib(run.bytes.perMillionDeliveries)));
  rows.push(line('bytes on disk, all tables and indexes, MiB', (run) => mib(run.bytes.totalBytes)));
  rows.push(line('fill by SQL, s', (run) => fmt(run.fill.totalSeconds)));
  console.table(rows);
  const d = sizes[0].dispatch;
  console.log(
    `  dispatch: ${fmt(d.deliveries)} fresh deliveries, median (min–max) of ${d.repeats} pair(s) of runs, empty tables then full; ` +
      `bytes: ${sizes[0].bytes.method}; ${s.eventTypes} event types, ${s.handlers} handlers`,
  );
  const notes = [...new Set(sizes.flatMap((run) => run.fill.warnings ?? []))];
  for (const note of notes) console.log(`  note: ${note}`);
}

/** Retention: the stream's latency before and during one run, the run's removal rate. */
function printRetention(db, t) {
  const ms = (v) => fmt(v ?? '>wait');
  const row = (label, p) => ({
    phase: label,
    seconds: fmt(p.seconds),
    events: fmt(p.events),
    'failed posts': p.failures,
    'not delivered': p.missing,
    'ingest p50 ms': fmt(p.ingest.p50_ms),
    'ingest p95 ms': fmt(p.ingest.p95_ms),
    'ingest p99 ms': fmt(p.ingest.p99_ms),
    '202 → delivered p50 ms': ms(p.delivered.p50_ms),
    '202 → delivered p95 ms': ms(p.delivered.p95_ms),
    '202 → delivered p99 ms': ms(p.delivered.p99_ms),
    '202 → delivered max ms': ms(p.delivered.max_ms),
  });
  console.log(
    `\nRetention on ${db}: ${fmt(t.filled.deliveries)} deliveries filled by SQL over 30 days (${fmt(t.filled.events)} events, ${fmt(t.filled.executionLogs)} execution logs), ` +
      `LOG_RETENTION_DAYS=${t.retentionDays}; ${t.offeredRate} events/s posted to ${t.handlersPerEvent} handlers each, before the run (quiet) and during it; ` +
      `ingest from the scheduled send, delivered: 202 read → body at the last handler; wait for stragglers ${t.settleSeconds} s:`,
  );
  console.table([
    row('before the run', t.before),
    row('during the run', t.during),
    { phase: 'during ÷ before, p99', 'ingest p99 ms': fmt(t.p99Ratio.ingest), '202 → delivered p99 ms': fmt(t.p99Ratio.delivered) },
  ]);
  const r = t.run;
  const ratio = r.ratioToDispatch === null ? '' : ` = ${fmt(r.ratioToDispatch)} × this run's dispatch rate (${fmt(r.dispatchRate)}/s)`;
  console.log(
    `  run: ${fmt(r.seconds)} s; cleared ${fmt(r.deliveriesCleared ?? r.removed.deliveries)} deliveries (${fmt(r['deliveries/s'])}/s${ratio}): ${fmt(r.removed.events)} events, ${fmt(r.removed.deliveries)} queue rows, ` +
      `${fmt(r.removed.executionLogs)} execution logs${r.logPartitionsDropped === null ? '' : ` (${r.logPartitionsDropped} day partitions dropped)`}; ${fmt(r['rows/s'])} rows/s in all`,
  );
  console.log(
    `  older than the cutoff and left: ${fmt(r.leftBehind.events)} events, ${fmt(r.leftBehind.deliveries)} deliveries, ${fmt(r.leftBehind.executionLogs)} execution logs; ` +
      `end of the run: ${r.end}; fill ${fmt(t.fillSeconds)} s`,
  );
  if (t.stream) {
    const statuses = Object.entries(t.stream.byStatus).map(([status, n]) => `${fmt(n)} ${status}`).join(', ');
    console.log(
      `  posted while the service ran: ${fmt(t.stream.acceptedEvents)} events accepted, ${fmt(t.stream.deliveriesStored)} of their ${fmt(t.stream.deliveriesExpected)} deliveries stored ` +
        `(${statuses || 'none'} when the service stopped); ${t.stream.lost === 0 ? 'none lost' : `${fmt(t.stream.lost)} LOST`}`,
    );
  }
  // A quiet phase whose delays grow second by second is a backlog: the stream is more than the service delivers on this machine, and the ratios say little.
  const worst = t.before.worstBySecond ?? [];
  if (worst.length > 1 && worst.at(-1) > 1000 && worst.at(-1) > 2 * worst[0]) {
    console.log(
      `  note: the quiet phase built a backlog (slowest delivery of its first second ${fmt(worst[0])} ms, of its last ${fmt(worst.at(-1))} ms): ` +
        `${t.offeredRate} events/s is more than the service delivered here before the run; the during ÷ before ratios are not retention's alone`,
    );
  }
}
