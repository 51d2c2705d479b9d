// The benchmark suite: ingest, dispatch, peers (BullMQ), end-to-end latency, the noisy neighbour, handler cache and memory
// (and, on request, retention under load and scale), on the embedded SQLite database and, when DATABASE_URL points at one,
// on MySQL/MariaDB. Prints tables and writes the figures as JSON. It measures and reports; it never fails on a figure.
//
//   npm run bench                                      SQLite only
//   DATABASE_URL=mariadb://root@127.0.0.1:3306/x npm run bench    SQLite and MariaDB
//   npm run bench -- --db mysql --only dispatch        one database, one part
//   npm run bench -- --only peers                      dispatch against BullMQ peers (needs Redis)
//   npm run bench -- --only neighbour --db both        healthy handlers' latency beside a target that never answers
//   npm run bench -- --only retention --db both        one retention run on 2,000,000 filled deliveries (2/3 expired):
//                                                      its removal rate, ingest and delivery latency before and during it
//                                                      (not part of the default run)
//   BENCH_QUICK=1 npm run bench                        everything, small (a check that it works)
//   npm run bench -- --only ingest --ingest-routes single --ingest-concurrency 64 --seconds 20
//                                                      one ingest cell (with BENCH_NODE_ARGS=--cpu-prof: a profile of it)
//   npm run bench -- --only ingest --ingest-routes logging
//                                                      what logging at the default level costs single ingest
//   npm run bench -- --only ingest --ingest-routes tracing
//                                                      single ingest with OpenTelemetry on (exporting) against off
//   npm run bench:scale                                tables filled to 10,000 … 10,000,000 deliveries, both databases,
//                                                      merged into the results file (not part of the default run)
//   npm run bench:scale -- --scale-rows 10000,100000  smaller sizes
//
// See BENCHMARKS.md for what each figure means.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runIngest } from './lib/ingest.mjs';
import { runDispatch } from './lib/dispatch.mjs';
import { runLatency } from './lib/latency.mjs';
import { runNeighbour } from './lib/neighbour.mjs';
import { runCache } from './lib/cache.mjs';
import { runScale } from './lib/scale.mjs';
import { runRetention } from './lib/retention.mjs';
import { redisStatus, runPeers } from './lib/peers.mjs';
import { databaseKinds, mysqlVersion, resultsName, startReceiver } from './lib/service.mjs';
import { commit, cpuBudgets, machine, printTables, targets } from './lib/report.mjs';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string' },
    only: { type: 'string', default: 'ingest,dispatch,peers,latency,neighbour,cache' },
    quick: { type: 'boolean', default: process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true' },
    out: { type: 'string', default: 'bench/results/latest.json' },
    merge: { type: 'boolean', default: false },
    'dispatch-concurrency': { type: 'string', default: '128' },
    'ingest-concurrency': { type: 'string' },
    'ingest-routes': { type: 'string', default: 'empty,single,filtered,batch,logging,tracing' },
    seconds: { type: 'string' },
    'peer-rounds': { type: 'string' },
    'loop-seconds': { type: 'string' },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'neighbour-rate': { type: 'string' },
    'neighbour-seconds': { type: 'string' },
    'neighbour-bad': { type: 'string' },
    'neighbour-settle': { type: 'string' },
    'neighbour-rounds': { type: 'string' },
    'retention-rows': { type: 'string' },
    'retention-rate': { type: 'string' },
    'retention-seconds': { type: 'string' },
    'scale-rows': { type: 'string' },
    'scale-requests': { type: 'string' },
    'scale-dispatch': { type: 'string' },
    'scale-dispatch-repeats': { type: 'string' },
  },
});

const quick = args.quick;
const parts = new Set(args.only.split(',').map((part) => part.trim()));
const databaseUrl = process.env.DATABASE_URL ?? '';
const mysqlUrl = /^(mysql|mariadb):\/\//.test(databaseUrl) ? databaseUrl : (process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/');
const kinds = databaseKinds(args.db ?? (/^(mysql|mariadb):\/\//.test(databaseUrl) ? 'both' : undefined));

const settings = {
  quick,
  ingest: {
    // Quick mode measures ingest at the top concurrency only (autocannon runs at least a second per cell).
    concurrencies: (args['ingest-concurrency'] ?? (quick ? '64' : '1,16,64')).split(',').map(Number),
    routes: args['ingest-routes'].split(','),
    seconds: args.seconds ? Number(args.seconds) : quick ? 0.3 : 4,
    rounds: quick ? 1 : 3,
    warmupSeconds: quick ? 0 : 1,
    batchSize: 100,
    handlers: 3,
  },
  dispatch: {
    deliveries: quick ? 2_000 : 20_000,
    handlers: 3,
    concurrency: Number(args['dispatch-concurrency']),
    repeats: quick ? 1 : 3,
    loopSeconds: args['loop-seconds'] ? Number(args['loop-seconds']) : quick ? 0.5 : 6,
  },
  peers: {
    deliveries: quick ? 2_000 : 20_000,
    handlers: 3,
    concurrency: Number(args['dispatch-concurrency']),
    rounds: args['peer-rounds'] ? Number(args['peer-rounds']) : quick ? 1 : 5,
    loopSeconds: args['loop-seconds'] ? Number(args['loop-seconds']) : quick ? 0.5 : 6,
    redisUrl: args['redis-url'],
  },
  latency: { rate: 500, seconds: quick ? 1.5 : 30, handlers: 1, concurrency: Number(args['dispatch-concurrency']) },
  // The service's default DISPATCH_CONCURRENCY (16) and handler defaults: the noisy neighbour as an operator meets it.
  neighbour: {
    rate: Number(args['neighbour-rate'] ?? (quick ? 100 : 200)),
    seconds: Number(args['neighbour-seconds'] ?? (quick ? 2 : 12)),
    handlers: 2,
    badEvents: Number(args['neighbour-bad'] ?? (quick ? 40 : 100)),
    concurrency: 16,
    settleSeconds: Number(args['neighbour-settle'] ?? (quick ? 5 : 60)),
    rounds: Number(args['neighbour-rounds'] ?? (quick ? 1 : 5)),
  },
  cache: { sizes: [10, 10_000], lookups: 1_000_000, rounds: quick ? 5 : 15 },
  // Deliveries filled over 30 days, 2/3 of them older than LOG_RETENTION_DAYS; the stream's rate; the quiet phase before the run.
  retention: {
    rows: Number((args['retention-rows'] ?? (quick ? '100000' : '2000000')).replace(/_/g, '')),
    rate: Number(args['retention-rate'] ?? 300),
    beforeSeconds: Number(args['retention-seconds'] ?? (quick ? 3 : 20)),
    retentionDays: 10,
    settleSeconds: quick ? 10 : 30,
  },
  scale: {
    // Deliveries in the tables (events: a third; execution logs: 1.1 per delivery); the first size is the base of the ratios.
    sizes: (args['scale-rows'] ?? (quick ? '10000,100000' : '10000,1000000,10000000')).split(',').map((n) => Number(n.replace(/_/g, ''))),
    requests: Number(args['scale-requests'] ?? (quick ? 10 : 200)),
    dispatchDeliveries: Number(args['scale-dispatch'] ?? (quick ? 600 : 6000)),
    // Pairs of dispatch runs (empty tables, then full) per size: the ratio is of their medians.
    dispatchRepeats: Number(args['scale-dispatch-repeats'] ?? (quick ? 1 : 3)),
    concurrency: Number(args['dispatch-concurrency']),
  },
};
if (!Number.isInteger(settings.retention.rows) || settings.retention.rows < 30 || !(settings.retention.rate > 0) || !(settings.retention.beforeSeconds >= 1)) {
  console.error(`--retention-rows (at least 30), --retention-rate (events/s) and --retention-seconds (at least 1): got ${args['retention-rows']}, ${args['retention-rate']}, ${args['retention-seconds']}`);
  process.exit(2);
}
if (settings.scale.sizes.some((n) => !Number.isInteger(n) || n < 3)) {
  console.error(`--scale-rows: a list of row counts (at least 3 each), e.g. 10000,1000000; got ${args['scale-rows']}`);
  process.exit(2);
}

const log = (line) => process.stdout.write(`${line}\n`);
const version = kinds.includes('mysql') ? await mysqlVersion(mysqlUrl) : null;
if (kinds.includes('mysql') && !version) {
  console.error(`MySQL/MariaDB at ${new URL(mysqlUrl.replace(/^mariadb:/, 'mysql:')).host} cannot be reached; run with --db sqlite or fix DATABASE_URL`);
  process.exit(2);
}
const info = machine(version);
log(`Benchmark${quick ? ' (quick)' : ''} on ${info.nproc} × ${info.cpu}, Node ${info.node}${version ? `, ${version}` : ''}`);

// The peers part needs Redis; without it the part is skipped, the rest runs.
let redis = null;
let peersSkipped = null;
if (parts.has('peers')) {
  redis = await redisStatus(settings.peers.redisUrl);
  if (!redis.ok) {
    const where = new URL(settings.peers.redisUrl).host;
    peersSkipped = `Redis not reachable at ${where} (${redis.error})`;
    log(`peers skipped: ${peersSkipped}`);
  }
}

const started = Date.now();
const runs = {};
const receiver = await startReceiver();
try {
  for (const kind of kinds) {
    const name = resultsName(kind, version);
    const run = (runs[name] = {});
    const common = { kind, name, serverUrl: mysqlUrl, log };
    const part = async (label, work) => {
      const began = Date.now();
      log(`${name}: ${label}`);
      const result = await work();
      log(`  (${((Date.now() - began) / 1000).toFixed(1)} s)`);
      return result;
    };
    if (parts.has('ingest')) run.ingest = await part('ingest', () => runIngest({ ...common, ...settings.ingest }));
    if (parts.has('dispatch')) run.dispatch = await part('dispatch', () => runDispatch({ ...common, receiver, ...settings.dispatch }));
    if (parts.has('peers')) {
      run.peers = peersSkipped
        ? { skipped: peersSkipped }
        : {
            date: new Date().toISOString(),
            commit: commit(),
            ...(await part('peers (dispatch, BullMQ + @nestjs/axios, BullMQ + undici, undici loop)', () => runPeers({ ...common, receiver, redis, ...settings.peers }))),
          };
    }
    if (parts.has('latency')) run.latency = await part('end-to-end latency', () => runLatency({ ...common, receiver, ...settings.latency }));
    if (parts.has('neighbour')) run.neighbour = await part('noisy neighbour', () => runNeighbour({ ...common, receiver, ...settings.neighbour }));
    if (parts.has('retention')) {
      const r = settings.retention;
      run.retention = {
        date: new Date().toISOString(),
        commit: commit(),
        ...(await part(`retention (${r.rows.toLocaleString('en-US')} deliveries, ${r.rate} events/s)`, () =>
          runRetention({ ...common, receiver, ...r, dispatchRate: run.dispatch?.['deliveries/s'] ?? null }),
        )),
      };
    }
    if (parts.has('scale')) {
      run.scale = {
        date: new Date().toISOString(),
        commit: commit(),
        ...(await part(`scale (${settings.scale.sizes.map((n) => n.toLocaleString('en-US')).join(', ')} deliveries)`, () => runScale({ ...common, receiver, ...settings.scale }))),
      };
    }
  }
} finally {
  await receiver.stop();
}
let cache = null;
if (parts.has('cache')) {
  log('handler cache');
  cache = await runCache({ ...settings.cache, log });
}

const list = targets(runs, cache, settings.ingest.concurrencies.at(-1));
const budgets = cpuBudgets(runs, info.nproc, settings.ingest.concurrencies.at(-1));
printTables(runs, cache, list, budgets);
let report = { date: new Date().toISOString(), commit: commit(), durationSeconds: Math.round((Date.now() - started) / 1000), machine: info, settings, results: runs, cache, targets: list, budgets };
const out = resolve(args.out);
if (args.merge && existsSync(out)) {
  // --merge: the parts of this run replace the same parts of the file; the rest of it stays, and
  // `merged` says which parts came from which run.
  const old = JSON.parse(readFileSync(out, 'utf8'));
  for (const [db, result] of Object.entries(runs)) old.results[db] = { ...old.results[db], ...result };
  for (const name of parts) if (settings[name]) old.settings[name] = settings[name];
  if (cache) old.cache = cache;
  old.merged = [...(old.merged ?? []), { parts: [...parts], date: new Date(started).toISOString(), commit: report.commit, durationSeconds: report.durationSeconds, machine: info }];
  old.targets = targets(old.results, old.cache, old.settings.ingest.concurrencies.at(-1));
  old.budgets = cpuBudgets(old.results, old.machine.nproc, old.settings.ingest.concurrencies.at(-1));
  report = old;
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
log(`\nFigures ${args.merge ? 'merged into' : 'written to'} ${args.out} (${Math.round((Date.now() - started) / 1000)} s)`);
