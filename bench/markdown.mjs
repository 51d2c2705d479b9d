// Prints the figures of a results file as the Markdown tables of BENCHMARKS.md.
//   node bench/markdown.mjs [bench/results/latest.json]
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'bench/results/latest.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const n = (value, digits = 0) =>
  value === null || value === undefined ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const roundsRange = (c) => (c.rounds?.length > 1 ? { min: Math.min(...c.rounds), max: Math.max(...c.rounds) } : null);
/** min–max over a part's runs (dispatch keeps every run). */
const runsRange = (d, pick) => {
  const values = (d.runs ?? []).map(pick).filter((v) => typeof v === 'number');
  return values.length > 1 ? { min: Math.min(...values), max: Math.max(...values) } : null;
};
const withRange = (value, range) => (range && range.min !== null && range.min !== range.max ? `${n(value)} (${n(range.min)}–${n(range.max)})` : n(value));
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
const out = [];
const m = report.machine;
out.push(
  `Run of ${report.date.slice(0, 16).replace('T', ' ')} UTC, commit ${report.commit}, ${report.durationSeconds} s: ${m.nproc} × ${m.cpu} (nproc ${m.nproc}), ` +
    `${m.memoryGb} GiB, Linux ${m.kernel}, Node ${m.node}${m.mysql ? `, ${m.mysql}` : ''}.`,
);
for (const m of report.merged ?? []) {
  out.push(`Merged in: ${m.parts.join(', ')} from the run started ${m.date.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit}, ${m.durationSeconds} s (nproc ${m.machine.nproc}).`);
}
const dbs = Object.keys(report.results);
const label = (db) => (db === 'sqlite' ? 'SQLite' : db === 'mariadb' ? 'MariaDB' : 'MySQL');

out.push('\n### Ingest\n');
const routes = [
  ['empty', 'empty route (`POST /api/v1/bench/empty`)'],
  ['single', '`POST /api/v1/events`'],
  ['filtered', '`POST /api/v1/events`, handlers with payload filters'],
  ['batch', `\`POST /api/v1/events/batch\` (${report.settings.ingest.batchSize} per request)`],
];
const rows = [];
for (const db of dbs) {
  const ingest = report.results[db].ingest;
  if (!ingest) continue;
  for (const [key, name] of routes) {
    for (const c of ingest.cells[key] ?? []) {
      rows.push([label(db), name, c.connections, withRange(c['events/s'], roundsRange(c)), `${n(c.p50_ms, 2)} / ${n(c.p99_ms, 2)}`, n(c.cpu_us.service), n(c.cpu_us.server), n(c.cpu_us.generator)]);
    }
  }
  const h = ingest.health;
  if (h) rows.push([label(db), '`GET /health` (requests/s)', h.connections, withRange(h['requests/s'], roundsRange(h)), `${n(h.p50_ms, 2)} / ${n(h.p99_ms, 2)}`, n(h.cpu_us.service), n(h.cpu_us.server), n(h.cpu_us.generator)]);
}
out.push(table(['database', 'route', 'concurrency', 'events/s (min–max of the rounds)', 'p50 / p99 ms', 'service CPU µs/event', 'DB server CPU µs/event', 'autocannon CPU µs/event'], rows));

out.push('\n### Dispatch\n');
out.push(
  table(
    ['database', 'deliveries', 'dispatch /s (min–max)', 'undici loop /s (min–max)', "dispatcher's client loop /s (min–max)", 'dispatch ÷ undici', 'dispatch ÷ client', 'CPU µs per delivery: service / DB server / receiver', 'CPU µs per undici-loop POST: sender / receiver', 'peak RSS MB'],
    dbs
      .filter((db) => report.results[db].dispatch)
      .map((db) => {
        const d = report.results[db].dispatch;
        return [
          label(db),
          `${n(d.deliveries)} (${n(d.events)} × ${d.handlersPerEvent}), c=${d.concurrency}, median of ${d.repeats}`,
          withRange(d['deliveries/s'], runsRange(d, (run) => run['deliveries/s'])),
          withRange(d.baselines['undici/s'], runsRange(d, (run) => run.baselines['undici/s'])),
          withRange(d.baselines['dispatcher-client/s'], runsRange(d, (run) => run.baselines['dispatcher-client/s'])),
          n(d.ratio.undici, 2),
          n(d.ratio['dispatcher-client'], 2),
          `${n(d.cpu.serviceUsPerDelivery)} / ${n(d.cpu.databaseServerUsPerDelivery)} / ${n(d.cpu.receiverUsPerDelivery)}`,
          `${n(d.cpu.baselineSenderUsPerPost.undici)} / ${n(d.cpu.baselineReceiverUsPerPost)}`,
          n(d.memory.peakRssMb),
        ];
      }),
  ),
);

const peerDbs = dbs.filter((db) => report.results[db].peers);
if (peerDbs.length) {
  out.push('\n### Peers: BullMQ workers and the bare undici loop, same rounds\n');
  const skipped = peerDbs.filter((db) => report.results[db].peers.skipped);
  for (const db of skipped) out.push(`${label(db)}: skipped (${report.results[db].peers.skipped}).\n`);
  const measured = peerDbs.filter((db) => !report.results[db].peers.skipped);
  const names = {
    dispatch: 'dispatch (this service)',
    'bullmq-axios': 'BullMQ + Nest worker, `@nestjs/axios`',
    'bullmq-undici': 'BullMQ + Nest worker, undici',
    'undici-loop': 'bare undici loop',
  };
  const spreadOf = (v) => (v.min === null ? '—' : `${n(v.median)} (${n(v.min)}–${n(v.max)})`);
  const rows = [];
  for (const db of measured) {
    const p = report.results[db].peers;
    for (const key of Object.keys(names)) {
      const c = p.summary[key];
      const r = p.ratios[key];
      rows.push([
        label(db),
        names[key],
        n(c.rate),
        `${n(c.min)}–${n(c.max)} (${n(c.spreadPct)}%)`,
        key === 'dispatch' ? '—' : `${n(r.median, 2)} (${n(r.min, 2)}–${n(r.max, 2)})`,
        spreadOf(c.cpu.sender),
        key === 'undici-loop' ? '—' : spreadOf(c.cpu.server),
        spreadOf(c.cpu.receiver),
        n(c.cpu.total.median),
        key === 'undici-loop' ? '1' : `${n(p.efficiency[key].median, 2)} (${n(p.efficiency[key].min, 2)}–${n(p.efficiency[key].max, 2)})`,
      ]);
    }
  }
  if (measured.length) {
    out.push(
      table(
        [
          'database',
          'contender',
          'per second (median)',
          'min–max (spread)',
          'dispatch ÷ this',
          'CPU µs/delivery: sender (service or worker)',
          'DB server or redis-server',
          'receiver',
          'all',
          'sender CPU ÷ loop sender CPU',
        ],
        rows,
      ),
    );
    for (const db of measured) {
      const p = report.results[db].peers;
      out.push(
        `\n${label(db)}${p.date ? `, measured ${p.date.slice(0, 16).replace('T', ' ')} UTC at commit ${p.commit}` : ''}: ${n(p.deliveries)} deliveries (${n(p.events)} × ${p.handlersPerEvent}), c=${p.concurrency}, ${p.rounds} round${p.rounds === 1 ? "" : "s"}, ` +
          `undici loop ${p.loopSeconds} s per round, load average ${n(p.loadAverage.min, 1)}–${n(p.loadAverage.max, 1)}; ` +
          `efficiency (service CPU per delivery ÷ bare undici sender CPU per POST) ${n(p.efficiency.dispatch.median, 2)} (${n(p.efficiency.dispatch.min, 2)}–${n(p.efficiency.dispatch.max, 2)}). ` +
          `Rounds (dispatch; BullMQ + axios; BullMQ + undici; loop, per second): ` +
          p.runs.map((r) => ['dispatch', 'bullmq-axios', 'bullmq-undici', 'undici-loop'].map((k) => n(r[k].rate)).join('; ')).join(' · ') + '.',
      );
    }
  }
}

out.push('\n### End-to-end latency\n');
out.push(
  table(
    ['database', 'events', '202 → handler p50 / p95 / p99 ms', 'max ms', 'accept p50 / p99 ms'],
    dbs
      .filter((db) => report.results[db].latency)
      .map((db) => {
        const l = report.results[db].latency;
        return [
          label(db),
          `${n(l.events)} at ${l.offeredRate}/s`,
          `${n(l.endToEnd.p50_ms, 2)} / ${n(l.endToEnd.p95_ms, 2)} / ${n(l.endToEnd.p99_ms, 2)}`,
          n(l.endToEnd.max_ms, 1),
          `${n(l.accept.p50_ms, 2)} / ${n(l.accept.p99_ms, 2)}`,
        ];
      }),
  ),
);

if (report.cache) {
  out.push('\n### Handler cache\n');
  const sizes = Object.keys(report.cache).filter((key) => key !== 'ratio');
  out.push(table(['enabled handlers', 'lookup ns', 'handlers per lookup (avg)', 'index build ms'], sizes.map((size) => [n(Number(size)), n(report.cache[size]['lookup ns'], 1), n(report.cache[size]['matching handlers per lookup (avg)'], 1), n(report.cache[size]['index build ms'], 1)])));
  const withFilters = sizes.filter((size) => report.cache[size]['select ns, no filters'] !== undefined);
  if (withFilters.length) {
    const crowd = (c) => Object.entries(c).find(([key]) => key.startsWith('select ns, crowd'))?.[1];
    out.push('\nPayload filters (lookup with the event, as ingest calls it):\n');
    out.push(
      table(
        ['enabled handlers', 'no filters ns', 'every handler filtered ns', 'filters per lookup (avg)', 'ns per filter', 'smallest set filtered, the rest elsewhere ns', 'index build ms, filtered'],
        withFilters.map((size) => {
          const c = report.cache[size];
          return [n(Number(size)), n(c['select ns, no filters'], 1), n(c['select ns, every handler filtered'], 1), n(c['matching handlers per lookup (avg)'], 1), n(c['ns per filter evaluated'], 1), n(crowd(c), 1), n(c['index build ms, every handler filtered'], 1)];
        }),
      ),
    );
  }
}

const scaleDbs = dbs.filter((db) => report.results[db].scale?.sizes?.length);
for (const db of scaleDbs) {
  const sc = report.results[db].scale;
  const sizes = sc.sizes;
  const figure = (v) => (v === null || v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: 2 }));
  out.push(`\n### Scale on ${label(db)}\n`);
  out.push(`Run of ${sc.date.slice(0, 16).replace('T', ' ')} UTC, commit ${sc.commit}; p50 / p99 ms of ${sc.requestsPerQuery} calls, [× the ${n(sc.baseRows)}-row figures]:\n`);
  const rows = Object.keys(sizes[0].queries).map((query) => [
    query,
    ...sizes.map((size, i) => {
      const q = size.queries[query];
      if (!q) return '—';
      const own = `${figure(q.p50)} / ${figure(q.p99)}`;
      return i === 0 || !q.ratio ? own : `${own} [×${figure(q.ratio.p50)} / ×${figure(q.ratio.p99)}]`;
    }),
  ]);
  rows.push(['dispatch deliveries/s, full ÷ empty tables (same minutes)', ...sizes.map((size) => `${n(size.dispatch['deliveries/s'])} ÷ ${n(size.dispatch.emptyTables)} = ${n(size.dispatch.ratioToEmpty, 3)}`)]);
  rows.push(['bytes on disk per 1,000,000 deliveries, MiB', ...sizes.map((size) => n(size.bytes.perMillionDeliveries / 2 ** 20, 1))]);
  rows.push(['fill by SQL, s', ...sizes.map((size) => n(size.fill?.totalSeconds ?? size.fill?.seconds?.total ?? null, 1))]);
  out.push(table(['query', ...sizes.map((size) => `${n(size.rows)} rows`)], rows));
}

out.push('\n### Targets\n');
out.push(table(['target', 'database', 'value', 'goal', 'met'], report.targets.map((t) => [t.target, t.database === '-' ? '—' : label(t.database), n(t.value, t.value < 10 ? 2 : 0), t.goal, t.met === null ? '—' : t.met ? 'yes' : '**no**'])));
if (report.budgets?.length) {
  out.push('\n### CPU the cores allow at each throughput goal (cpuBudgets in bench/lib/report.mjs)\n');
  out.push(
    table(
      ['goal', 'database', 'rate at the goal /s', 'µs per delivery or event, all processes, every core busy', 'others spent (DB server or load generator, receiver)', 'left for the service', 'the service spent', 'fixed part of it', 'service cores at the goal', 'cores busy in the run'],
      report.budgets.map((b) => [b.goal, label(b.database), n(b.rate), n(b.budget, 1), n(b.others, 1), n(b.left, 1), n(b.service, 1), `${n(b.reference.us, 1)} (${b.reference.label})`, n(b.serviceCores, 2), n(b.coresBusy, 2)]),
    ),
  );
}
console.log(out.join('\n'));
