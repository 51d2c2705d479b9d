// The service under test as a child process (node dist/src/main.js), its databases, a
// receiver process, and the admin calls the benchmarks need.
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { request } from 'undici';
import { freePort, ipc, sleep } from './util.mjs';

const MAIN = resolve('dist/src/main.js');
/** The compiled service to start: this checkout's, or another build's (bench/compare.mjs sets it per round). */
const serviceMain = () => (process.env.BENCH_SERVICE_MAIN ? resolve(process.env.BENCH_SERVICE_MAIN) : MAIN);
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** A fresh database of the given kind: `sqlite`, or `mysql` on the server of `serverUrl`. */
export async function createDatabase(kind, serverUrl) {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-'));
    return { kind, url: `sqlite:${join(dir, 'bench.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const server = new URL(serverUrl.replace(/^mariadb:/, 'mysql:'));
  server.pathname = '/';
  const name = `bench_${process.pid}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const admin = await createConnection({ uri: server.toString() });
  const [[{ version }]] = await admin.query('SELECT VERSION() AS version');
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${name}`;
  // mariadb:// tells the service which flavor it talks to (see DATABASE_URL in the README).
  if (/mariadb/i.test(version)) url.protocol = 'mariadb:';
  return {
    kind,
    url: url.toString(),
    version,
    drop: async () => {
      const connection = await createConnection({ uri: server.toString() });
      await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await connection.end();
    },
  };
}

/**
 * The database kinds a `--db` value names: `sqlite`, `mysql` (`mariadb` is the same kind: one
 * driver and one server URL serve both), or `both`; unset, SQLite alone.
 */
export function databaseKinds(db) {
  if (db === 'both') return ['sqlite', 'mysql'];
  if (db === 'mariadb') return ['mysql'];
  return db ? [db] : ['sqlite'];
}

/** The name a kind's figures go under in the results: the server's version tells MariaDB from MySQL. */
export function resultsName(kind, version) {
  return kind === 'sqlite' ? 'sqlite' : /mariadb/i.test(version ?? '') ? 'mariadb' : 'mysql';
}

/** The server's version string, or null when it cannot be reached. */
export async function mysqlVersion(serverUrl) {
  try {
    const server = new URL(serverUrl.replace(/^mariadb:/, 'mysql:'));
    server.pathname = '/';
    const connection = await createConnection({ uri: server.toString(), connectTimeout: 3000 });
    const [[{ version }]] = await connection.query('SELECT VERSION() AS version');
    await connection.end();
    return version;
  } catch {
    return null;
  }
}

/** Runs one SQL query against a database made by createDatabase (for checks after a run). */
export async function queryDatabase(db, sql) {
  if (db.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const sqlite = new Database(db.url.slice('sqlite:'.length), { readonly: true });
    try {
      return sqlite.prepare(sql).all();
    } finally {
      sqlite.close();
    }
  }
  const connection = await createConnection({ uri: db.url.replace(/^mariadb:/, 'mysql:') });
  try {
    const [rows] = await connection.query(sql);
    return rows;
  } finally {
    await connection.end();
  }
}

/**
 * Starts the compiled service on a free port and waits until /health/ready answers 200.
 * BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") is passed to node;
 * BENCH_SERVICE_LOG=1 copies the service's output to this process's stderr; BENCH_SERVICE_ENV
 * ("KEY=value KEY2=value2") adds settings to the service's environment, after the part's own
 * (an A/B of one setting: DISPATCH_CALL_THREAD=false, say).
 */
/** BENCH_SERVICE_ENV as an object. */
function extraEnv() {
  const pairs = (process.env.BENCH_SERVICE_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

export async function startService({ databaseUrl, key, env = {}, onSpawn }) {
  const port = await freePort();
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : [];
  const workDir = mkdtempSync(join(tmpdir(), 'bench-service-'));
  const child = spawn(process.execPath, [...nodeArgs, serviceMain()], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      LOG_FORMAT: 'text',
      DATABASE_URL: databaseUrl,
      BOOTSTRAP_ADMIN_KEY: key,
      ADMIN_KEY_FILE: join(workDir, 'admin-key.txt'),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
      ...extraEnv(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child.pid);
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
    if (process.env.BENCH_SERVICE_LOG) process.stderr.write(chunk);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}: ${output}`);
    try {
      const res = await request(`http://127.0.0.1:${port}/health/ready`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      throw new Error(`service did not become ready within 60 s: ${output}`);
    }
    await sleep(50);
  }
  return {
    port,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    /** SIGTERM, then wait for the exit (the service finishes in-flight calls first). */
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** JSON calls to the service with the admin key. */
export function adminClient(service, key) {
  return async (method, path, body) => {
    const res = await request(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    const json = text ? JSON.parse(text) : null;
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 500)}`);
    return json;
  };
}

/** Registers `count` http handlers for `event`, priorities 1..count, pointing at the receiver; handler i gets filters[i % length] when given. */
export async function createHandlers(api, receiverPort, count, event = 'clients.update', filters = []) {
  const handlers = [];
  for (let i = 0; i < count; i++) {
    handlers.push(
      await api('POST', '/api/v1/handlers', {
        name: `bench ${i + 1}`,
        event,
        type: 'http',
        task: `127.0.0.1:${receiverPort}/hook${i + 1}`,
        priority: i + 1,
        ...(filters.length > 0 ? { filter: filters[i % filters.length] } : {}),
      }),
    );
  }
  return handlers;
}

/** Starts the receiver process; `ask` controls it (see receiver.mjs). */
export async function startReceiver() {
  const child = fork(join(HERE, 'receiver.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const control = ipc(child);
  const port = await new Promise((resolveReady, reject) => {
    const off = control.on((message) => {
      if (message.type === 'ready') {
        off();
        resolveReady(message.port);
      }
    });
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
  });
  return {
    port,
    pid: child.pid,
    ask: control.ask,
    on: control.on,
    /** Calls `listener` once, at the first arrival after a reset with a target. */
    onFirst(listener) {
      const off = control.on((message) => {
        if (message.type === 'first') {
          off();
          listener(message);
        }
      });
    },
    /** Resolves with {first, at} once the receiver has counted `target` arrivals since the last reset. */
    reached() {
      return new Promise((resolveReached) => {
        const off = control.on((message) => {
          if (message.type === 'reached') {
            off();
            resolveReached(message);
          }
        });
      });
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

/** Resident memory of a process from /proc (Linux): current and peak (VmHWM), in MB. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the highest values seen. */
export function sampleMemory(pid, everyMs = 100) {
  let peak = { rssMb: 0, peakMb: 0 };
  const take = () => {
    const m = memoryOf(pid);
    if (m) peak = { rssMb: Math.max(peak.rssMb, m.rssMb), peakMb: Math.max(peak.peakMb, m.peakMb) };
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return peak;
    },
  };
}

/** A random admin key for the service's BOOTSTRAP_ADMIN_KEY. */
export const newKey = () => `bench_${randomBytes(24).toString('hex')}`;

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); null elsewhere. */
export function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** The pid of the local MySQL/MariaDB server, when it runs on this machine (for its CPU time). */
export function databaseServerPid() {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
        if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
      } catch {}
    }
  } catch {}
  return null;
}
