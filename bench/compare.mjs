// Before and after: one run measures an earlier commit of the service and this checkout in turn,
// round by round (the order alternates: A B, B A, ...), on the same machine, receiver and
// databases, with this checkout's benchmark code driving both. It prints, for dispatch and
// single-event ingest on each database, the median of each side, the spread of its rounds, and
// after ÷ before; and the run-to-run noise it measured (the spread of the rounds of one side),
// which is the yardstick a ratio is read against. Then the bytes on disk per 1,000,000
// deliveries of each build, table by table (./lib/bytes.mjs: the same real deliveries through
// each build, retries included).
//
//   npm run bench:compare                      HEAD~1 against this checkout, SQLite and MariaDB
//   npm run bench:compare -- --base a2fe0df --rounds 4 --db sqlite
//   npm run bench:compare -- --base a2fe0df --parts bytes      bytes on disk per delivery only
//
// The earlier commit is checked out (detached) into a temporary folder, compiled with this
// checkout's node_modules, and removed at the end.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runIngest } from './lib/ingest.mjs';
import { dispatchOnce } from './lib/dispatch.mjs';
import { bytesPerDelivery } from './lib/bytes.mjs';
import { databaseKinds, mysqlVersion, resultsName, startReceiver } from './lib/service.mjs';
import { commit, machine } from './lib/report.mjs';
import { round } from './lib/util.mjs';

const { values: args } = parseArgs({
  options: {
    base: { type: 'string', default: 'HEAD~1' },
    rounds: { type: 'string', default: '3' },
    db: { type: 'string', default: 'both' },
    deliveries: { type: 'string', default: '12000' },
    seconds: { type: 'string', default: '4' },
    'bytes-events': { type: 'string', default: '10000' },
    parts: { type: 'string', default: 'speed,bytes' },
    out: { type: 'string', default: 'bench/results/compare.json' },
  },
});
const rounds = args.parts.split(',').includes('speed') ? Number(args.rounds) : 0;
const measureBytes = args.parts.split(',').includes('bytes');
const mysqlUrl = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/';
const kinds = databaseKinds(args.db);
const version = kinds.includes('mysql') ? await mysqlVersion(mysqlUrl) : null;
if (kinds.includes('mysql') && !version) {
  console.error(`MySQL/MariaDB at ${new URL(mysqlUrl).host} cannot be reached; run with --db sqlite`);
  process.exit(2);
}
const log = (line) => process.stdout.write(`${line}\n`);
const git = (...argv) => execFileSync('git', argv, { encoding: 'utf8' }).trim();

// The earlier build, next to this checkout's (`npm run bench:compare` has just built dist/).
const baseCommit = git('rev-parse', '--short', args.base);
const workDir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
const baseDir = join(workDir, 'base');
git('worktree', 'add', '--detach', baseDir, baseCommit);
const sides = [
  { name: `before (${baseCommit})`, main: join(baseDir, 'dist/src/main.js') },
  { name: `after (${commit()})`, main: resolve('dist/src/main.js') },
];
const receiver = await startReceiver();
const started = Date.now();
const samples = {};
const bytes = {};
try {
  symlinkSync(resolve('node_modules'), join(baseDir, 'node_modules'));
  log(`Compiling ${baseCommit} in ${baseDir}`);
  execFileSync(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: baseDir, stdio: 'inherit' });
  const info = machine(version);
  log(`Before/after on ${info.nproc} × ${info.cpu}, Node ${info.node}${version ? `, ${version}` : ''}: ${rounds} rounds, order alternating`);

  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const kind of kinds) {
      const name = resultsName(kind, version);
      for (const side of order) {
        process.env.BENCH_SERVICE_MAIN = side.main;
        const quiet = () => {};
        const ingest = await runIngest({
          kind, name, serverUrl: mysqlUrl, concurrencies: [64], routes: ['empty', 'single'], seconds: Number(args.seconds),
          rounds: 1, warmupSeconds: 1, batchSize: 100, handlers: 3, log: quiet,
        });
        const dispatch = await dispatchOnce({
          kind, name, serverUrl: mysqlUrl, receiver, deliveries: Number(args.deliveries), handlers: 3, concurrency: 128, log: quiet, loopSeconds: 3,
        });
        const single = ingest.cells.single[0]['events/s'];
        const figures = {
          'dispatch deliveries/s': dispatch['deliveries/s'],
          'dispatch ÷ undici loop': dispatch.ratio.undici,
          'single ingest events/s, c=64': single,
          'single ingest ÷ empty route': round(single / ingest.cells.empty[0]['requests/s'], 3),
          'dispatch service CPU µs/delivery': dispatch.cpu.serviceUsPerDelivery,
        };
        for (const [figure, value] of Object.entries(figures)) ((samples[`${name}|${figure}`] ??= {})[side.name] ??= []).push(value);
        log(`round ${r + 1} ${name} ${side.name}: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(' · ')}`);
      }
    }
  }
  // Bytes on disk: one run per build and database (the same events give the same rows: no noise to average out).
  if (measureBytes) {
    for (const kind of kinds) {
      const name = resultsName(kind, version);
      for (const side of sides) {
        process.env.BENCH_SERVICE_MAIN = side.main;
        log(`bytes ${name} ${side.name}:`);
        const result = await bytesPerDelivery({ kind, serverUrl: mysqlUrl, receiver, events: Number(args['bytes-events']), handlers: 3, log });
        (bytes[name] ??= {})[side.name] = result;
      }
    }
  }
} finally {
  delete process.env.BENCH_SERVICE_MAIN;
  await receiver.stop();
  git('worktree', 'remove', '--force', baseDir);
  rmSync(workDir, { recursive: true, force: true });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
/** max ÷ min − 1 of one side's rounds: how far the same build moved within this run. */
const spread = (values) => (Math.min(...values) > 0 ? Math.max(...values) / Math.min(...values) - 1 : null);
const rows = [];
for (const [key, bySide] of Object.entries(samples)) {
  const [database, figure] = key.split('|');
  const [before, after] = sides.map((side) => bySide[side.name]);
  const noise = Math.max(spread(before), spread(after));
  const ratio = median(after) / median(before);
  // CPU per delivery is better when lower: a rise beyond the noise is the drop.
  const lowerIsBetter = figure.includes('CPU');
  const dropped = lowerIsBetter ? ratio - 1 > noise : 1 - ratio > noise;
  rows.push({ database, figure, before: median(before), beforeRounds: before, after: median(after), afterRounds: after, ratio: round(ratio, 3), noise: round(noise, 3), droppedBeyondNoise: dropped });
}
log('\n| database | figure | before (median; rounds) | after (median; rounds) | after ÷ before | noise (max ÷ min − 1) | worse beyond noise |');
log('|---|---|---|---|---|---|---|');
for (const row of rows) {
  log(`| ${row.database} | ${row.figure} | ${row.before} (${row.beforeRounds.join(', ')}) | ${row.after} (${row.afterRounds.join(', ')}) | ${row.ratio} | ${row.noise} | ${row.droppedBeyondNoise ? 'yes' : 'no'} |`);
}
const mib = (n) => (n / 2 ** 20).toFixed(1);
for (const [database, bySide] of Object.entries(bytes)) {
  const [before, after] = sides.map((side) => bySide[side.name]);
  const tables = [...new Set([...Object.keys(before.tables), ...Object.keys(after.tables)])].filter((t) => (before.tables[t]?.data ?? 0) + (after.tables[t]?.data ?? 0) > 65_536);
  log(`\nBytes on disk per 1,000,000 deliveries, ${database} (${after.deliveries} deliveries, ${after.attempts} attempts; MiB, data + indexes):`);
  log('| table | before | after | after ÷ before |');
  log('|---|---|---|---|');
  const per = (r, t) => (r.tables[t] ? ((r.tables[t].data + r.tables[t].indexes) * 1_000_000) / r.deliveries : 0);
  for (const table of tables) log(`| ${table} | ${mib(per(before, table))} (${mib((before.tables[table]?.indexes ?? 0) * 1_000_000 / before.deliveries)} indexes) | ${mib(per(after, table))} (${mib((after.tables[table]?.indexes ?? 0) * 1_000_000 / after.deliveries)} indexes) | ${per(before, table) > 0 ? round(per(after, table) / per(before, table), 3) : '—'} |`);
  log(`| all tables | ${mib(before.perMillionDeliveries)} | ${mib(after.perMillionDeliveries)} | ${round(after.perMillionDeliveries / before.perMillionDeliveries, 3)} |`);
}

const out = resolve(args.out);
mkdirSync(dirname(out), { recursive: true });
const report = { date: new Date().toISOString(), before: baseCommit, after: commit(), rounds, durationSeconds: Math.round((Date.now() - started) / 1000), machine: machine(version), rows, bytes };
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
log(`\nWritten to ${args.out} (${report.durationSeconds} s)`);
