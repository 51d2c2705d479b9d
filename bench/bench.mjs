// Benchmark of the hot path: accept → store → claim → call → log.
// Starts the compiled service as a child process, a receiver and a load generator in this
// process, and prints ingest and delivery throughput, latencies and the service's memory.
//
//   npm run bench -- [--db sqlite|mysql|both] [--events 5000] [--concurrency 32] [--handlers 1]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createConnection } from 'mysql2/promise';

const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: 'both' },
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    handlers: { type: 'string', default: '1' },
    'dispatch-concurrency': { type: 'string', default: '64' },
  },
});
const EVENTS = Number(args.events);
const CONCURRENCY = Number(args.concurrency);
const HANDLERS = Number(args.handlers);
const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const MAIN = resolve('dist/src/main.js');

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function request(port, method, path, key, body) {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolvePromise({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function startService(databaseUrl, key) {
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the service.
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      BOOTSTRAP_ADMIN_KEY: key,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DISPATCH_CONCURRENCY: args['dispatch-concurrency'],
      ADMIN_KEY_FILE: join(tmpdir(), `bench-key-${process.pid}`),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  // LOG_LEVEL=warn hides the startup line, so find the port from /proc.
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited: ${output}`);
    const port = listeningPort(child.pid);
    if (port) {
      try {
        const res = await request(port, 'GET', '/health/ready', key);
        if (res.status === 200) return { child, port, output: () => output };
      } catch {
        /* not yet */
      }
    }
    if (Date.now() - started > 30_000) throw new Error(`service did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The TCP port a process listens on, from /proc (Linux). */
function listeningPort(pid) {
  try {
    const inodes = new Set();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(link);
        if (match) inodes.add(match[1]);
      } catch {}
    }
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[3] === '0A' && inodes.has(cols[9])) return parseInt(cols[1].split(':')[1], 16);
      }
    }
  } catch {}
  return null;
}

function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

async function database(kind) {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-'));
    return { url: `sqlite:${join(dir, 'bench.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = await createConnection({ uri: MYSQL_URL });
  const [[{ version }]] = await admin.query('SELECT VERSION() AS version');
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  if (/mariadb/i.test(version)) url.protocol = 'mariadb:';
  return {
    url: url.toString(),
    drop: async () => {
      const c = await createConnection({ uri: MYSQL_URL });
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}

async function run(kind) {
  const db = await database(kind);
  const key = `bench_${randomBytes(24).toString('hex')}`;
  const arrivals = new Map();
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const objectId = JSON.parse(body).event.object_id;
      arrivals.set(objectId, (arrivals.get(objectId) ?? 0) + 1);
      if (arrivals.get(objectId) === HANDLERS) lastArrival.set(objectId, performance.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  const lastArrival = new Map();
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverPort = receiver.address().port;
  const service = await startService(db.url, key);
  try {
    for (let i = 0; i < HANDLERS; i++) {
      const res = await request(service.port, 'POST', '/api/v1/handlers', key, {
        name: `bench ${i}`,
        event: 'clients.update',
        type: 'http',
        task: `127.0.0.1:${receiverPort}/hook${i}`,
        priority: i + 1,
      });
      if (res.status !== 201) throw new Error(`handler: ${JSON.stringify(res.body)}`);
    }
    // Warm up connections and JIT.
    for (let i = 0; i < 50; i++) {
      await request(service.port, 'POST', '/api/v1/events', key, { event: 'clients.update', object_id: 1_000_000 + i, data: { name: 'warm' } });
    }
    while ([...arrivals.keys()].filter((k) => k >= 1_000_000).length < 50) await new Promise((r) => setTimeout(r, 20));

    const postedAt = new Map();
    const acceptLatency = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < EVENTS) {
          const objectId = ++next;
          const t0 = performance.now();
          postedAt.set(objectId, t0);
          const res = await request(service.port, 'POST', '/api/v1/events', key, {
            event: 'clients.update',
            object_id: objectId,
            data: { id: objectId, name: `client ${objectId}`, balance: '12.50' },
          });
          if (res.status !== 202) throw new Error(`event: ${res.status} ${JSON.stringify(res.body)}`);
          acceptLatency.push(performance.now() - t0);
        }
      }),
    );
    const ingestSeconds = (performance.now() - started) / 1000;
    const memoryAfterIngest = memoryOf(service.child.pid);
    const deadline = Date.now() + 300_000;
    while ([...lastArrival.keys()].filter((k) => k <= EVENTS).length < EVENTS) {
      if (Date.now() > deadline) throw new Error('deliveries did not finish within 5 minutes');
      await new Promise((r) => setTimeout(r, 20));
    }
    const deliveredSeconds = (Math.max(...[...lastArrival.entries()].filter(([k]) => k <= EVENTS).map(([, t]) => t)) - started) / 1000;
    const endToEnd = [...postedAt.entries()].map(([id, t]) => lastArrival.get(id) - t).sort((a, b) => a - b);
    acceptLatency.sort((a, b) => a - b);
    const memory = memoryOf(service.child.pid);
    return {
      database: kind,
      events: EVENTS,
      handlers: HANDLERS,
      'accepted/s': fmt(EVENTS / ingestSeconds),
      'accept p50 ms': fmt(percentile(acceptLatency, 50), 1),
      'accept p99 ms': fmt(percentile(acceptLatency, 99), 1),
      'delivered calls/s': fmt((EVENTS * HANDLERS) / deliveredSeconds),
      'event→last call p50 ms': fmt(percentile(endToEnd, 50), 1),
      'event→last call p99 ms': fmt(percentile(endToEnd, 99), 1),
      'RSS after ingest MB': fmt(memoryAfterIngest.rssMb),
      'RSS peak MB': fmt(memory.peakMb),
    };
  } finally {
    if (process.env.BENCH_SERVICE_LOG) writeFileSync(process.env.BENCH_SERVICE_LOG, service.output());
    service.child.kill('SIGTERM');
    await new Promise((r) => service.child.once('exit', r));
    receiver.closeAllConnections();
    receiver.close();
    await db.drop();
  }
}

const kinds = args.db === 'both' ? ['sqlite', 'mysql'] : [args.db];
const results = [];
for (const kind of kinds) {
  process.stdout.write(`bench ${kind}: ${EVENTS} events, ${CONCURRENCY} concurrent posts, ${HANDLERS} handler(s)...\n`);
  results.push(await run(kind));
}
console.table(results);
agent.destroy();
