// Peers: the service's dispatch against what a NestJS team would build instead of it — a BullMQ
// queue on Redis with a Nest worker posting each job (peer-worker.mjs) — and against the bare
// undici loop, in one run, interleaved round by round on the same receiver:
//
//   dispatch       the service: fill a fresh queue through the batch endpoint (an `api` instance),
//                  then a `worker` instance drains it (dispatch.mjs, without its own baselines);
//   bullmq-axios   a producer adds the same number of jobs (same envelopes, 3 attempts,
//                  exponential backoff, completed jobs kept), then the Nest worker drains the
//                  queue posting through @nestjs/axios's HttpService;
//   bullmq-undici  the same, the worker posting through an undici Pool;
//   undici-loop    the bare undici keep-alive loop (baseline.mjs) for `loopSeconds`.
//
// A drain's rate is deliveries − 1 over the time from the first to the last arrival at the
// receiver (start-up not counted), as in the dispatch part; the CPU of each process (service or
// worker, database server or redis-server, receiver) is read from /proc at those two moments.
// The order of the contenders rotates from round to round. Each figure is reported as the median
// of the rounds with their min–max; ratios are the medians of the per-round ratios.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuOf } from './service.mjs';
import { dispatchOnce, runBaseline, signedRequest } from './dispatch.mjs';
import { round, sleep } from './util.mjs';

const WORKER = fileURLToPath(new URL('./peer-worker.mjs', import.meta.url));
export const CONTENDERS = ['dispatch', 'bullmq-axios', 'bullmq-undici', 'undici-loop'];
const JOB_OPTIONS = { attempts: 3, backoff: { type: 'exponential', delay: 1000 } };

const redisOptions = (url) => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), ...(u.password ? { password: decodeURIComponent(u.password) } : {}) };
};

/** {ok, version, pid} when Redis answers at `url`, else {ok: false, error}. */
export async function redisStatus(url) {
  let client;
  let refused = null;
  try {
    const { Redis } = await import('ioredis');
    client = new Redis({ ...redisOptions(url), lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', (error) => (refused ??= error));
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? null;
    let pid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0) || null;
    // The pid is only of use when it is this machine's process (not one in another namespace).
    if (pid && !isRedisProcess(pid)) pid = findRedisPid();
    return { ok: true, version, pid };
  } catch (error) {
    const cause = refused ?? error;
    return { ok: false, error: cause?.code ?? cause?.message ?? String(cause) };
  } finally {
    client?.disconnect();
  }
}

function isRedisProcess(pid) {
  try {
    return /redis-server|valkey-server/.test(readFileSync(`/proc/${pid}/comm`, 'utf8'));
  } catch {
    return false;
  }
}

function findRedisPid() {
  try {
    for (const entry of readdirSync('/proc')) if (/^\d+$/.test(entry) && isRedisProcess(Number(entry))) return Number(entry);
  } catch {}
  return null;
}

/** The envelope the service sends for event `objectId` (same keys, same order, same values). */
const envelope = (objectId) => ({
  event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.update', object_id: objectId },
  data: { id: objectId, name: `client ${objectId}`, balance: '12.50' },
});

const perDelivery = (from, to, count) => (from === null || from === undefined || to === null || to === undefined ? null : round(((to - from) * 1000) / count));

/** Starts peer-worker.mjs and resolves once its BullMQ worker runs. */
function startWorker(job) {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const messages = [];
  let wake = null;
  child.on('message', (message) => {
    messages.push(message);
    wake?.();
  });
  const next = async (type, ms) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = messages.findIndex((m) => m.type === type || m.type === 'error');
      if (index >= 0) {
        const [message] = messages.splice(index, 1);
        if (message.type === 'error') throw new Error(`peer worker: ${message.error}`);
        return message;
      }
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`peer worker: no '${type}' (exit ${child.exitCode})`);
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
  };
  child.send({ type: 'start', ...job });
  return {
    pid: child.pid,
    ready: () => next('ready', 60_000),
    async stop() {
      if (child.exitCode === null && child.connected) {
        child.send({ type: 'stop' });
        try {
          return await next('stopped', 30_000);
        } catch (error) {
          child.kill('SIGKILL');
          throw error;
        } finally {
          await exited;
        }
      }
      await exited;
      return null;
    },
  };
}

/** One BullMQ drain: fill the queue with `events` × handlers jobs, start the worker, time the drain. */
async function bullmqOnce({ client, receiver, events, handlers, concurrency, redisUrl, redisPid, round: r }) {
  const { Queue } = await import('bullmq');
  const connection = redisOptions(redisUrl);
  const name = `bench-peers-${process.pid}-${client}-${r}-${randomBytes(2).toString('hex')}`;
  const queue = new Queue(name, { connection });
  const total = events * handlers.length;
  try {
    // 1. The producer: every job added before the worker starts (as the dispatch part fills its queue first).
    const chunk = [];
    let n = 0;
    for (let id = 1; id <= events; id++) {
      for (const handler of handlers) {
        chunk.push({ name: 'deliver', data: { handlerId: handler.id, messageId: `msg_d${++n}`, envelope: envelope(id) }, opts: JOB_OPTIONS });
        if (chunk.length === 1000) await queue.addBulk(chunk.splice(0));
      }
    }
    if (chunk.length) await queue.addBulk(chunk.splice(0));

    // 2. The worker drains it: time from the first to the last arrival at the receiver.
    await receiver.ask('reset', { target: total });
    const reached = receiver.reached();
    let workerPid = null;
    const cpuAtFirst = {};
    receiver.onFirst(() => {
      cpuAtFirst.worker = workerPid ? cpuOf(workerPid) : null;
      cpuAtFirst.redis = redisPid ? cpuOf(redisPid) : null;
      cpuAtFirst.receiver = cpuOf(receiver.pid);
    });
    const worker = startWorker({ client, queue: name, redis: connection, concurrency, handlers });
    workerPid = worker.pid;
    let arrival;
    let cpuAtEnd;
    let stopped;
    try {
      await worker.ready();
      const limitMs = Math.max(120_000, total * 10);
      let timer;
      arrival = await Promise.race([reached, new Promise((resolve) => (timer = setTimeout(resolve, limitMs, null)))]);
      clearTimeout(timer);
      cpuAtEnd = { worker: cpuOf(workerPid), redis: redisPid ? cpuOf(redisPid) : null, receiver: cpuOf(receiver.pid) };
      if (!arrival) {
        const { count } = await receiver.ask('stats');
        throw new Error(`${client}: ${count} of ${total} deliveries arrived within ${limitMs / 1000} s`);
      }
      // Let the last completions be written before the check below.
      for (let i = 0; i < 50 && (await queue.getJobCounts('completed')).completed < total; i++) await sleep(100);
    } finally {
      stopped = await worker.stop();
    }
    const counts = await queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
    const seconds = (arrival.at - arrival.first) / 1000;
    return {
      deliveries: total,
      seconds: round(seconds, 2),
      rate: round((total - 1) / seconds),
      check: { completed: counts.completed, failed: counts.failed, left: counts.wait + counts.active + counts.delayed, failures: stopped?.failures ?? [] },
      cpu: {
        sender: perDelivery(cpuAtFirst.worker, cpuAtEnd.worker, total - 1),
        server: perDelivery(cpuAtFirst.redis, cpuAtEnd.redis, total - 1),
        receiver: perDelivery(cpuAtFirst.receiver, cpuAtEnd.receiver, total - 1),
      },
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

async function loopOnce({ receiver, total, concurrency, seconds, handlers }) {
  const { body, headers } = signedRequest(handlers[0].secret, 1);
  await receiver.ask('reset');
  const receiverBefore = cpuOf(receiver.pid);
  const result = await runBaseline({ client: 'undici', url: handlers[0].url, count: total, seconds, concurrency, body, headers });
  return {
    posts: result.count,
    seconds: round(result.seconds, 2),
    rate: round(result.rate),
    cpu: {
      sender: round(result.cpuUsPerCall),
      server: null,
      // The loop's warm-up calls reach the receiver too.
      receiver: perDelivery(receiverBefore, cpuOf(receiver.pid), result.count + result.warmup),
    },
  };
}

const median = (values) => {
  const sorted = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values) => {
  const list = values.filter((v) => v !== null && v !== undefined && !Number.isNaN(v));
  return list.length ? { min: Math.min(...list), max: Math.max(...list) } : { min: null, max: null };
};
const loadAverage = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return null;
  }
};

/**
 * `rounds` rounds of the four contenders, the order rotating. Returns the summary (medians,
 * spreads, ratios, CPU per delivery, efficiency) and every round.
 */
export async function runPeers({ kind, name, serverUrl, receiver, deliveries, handlers: handlerCount, concurrency, rounds, loopSeconds, redisUrl, redis, log }) {
  const events = Math.ceil(deliveries / handlerCount);
  const total = events * handlerCount;
  const handlers = Array.from({ length: handlerCount }, (_, i) => ({
    id: i + 1,
    url: `http://127.0.0.1:${receiver.port}/hook${i + 1}`,
    secret: `whsec_${randomBytes(32).toString('base64')}`,
  }));
  const all = [];
  for (let r = 0; r < rounds; r++) {
    const order = CONTENDERS.map((_, i) => CONTENDERS[(i + r) % CONTENDERS.length]);
    const round_ = { order, loadAverage: null };
    for (const contender of order) {
      if (contender === 'dispatch') {
        const d = await dispatchOnce({ kind, name, serverUrl, receiver, deliveries, handlers: handlerCount, concurrency, log: () => {}, baselines: false });
        round_.dispatch = {
          deliveries: d.deliveries,
          seconds: d.seconds,
          rate: d['deliveries/s'],
          check: d.check,
          peakRssMb: d.memory.peakRssMb,
          cpu: { sender: d.cpu.serviceUsPerDelivery, server: d.cpu.databaseServerUsPerDelivery, receiver: d.cpu.receiverUsPerDelivery },
        };
      } else if (contender === 'undici-loop') {
        round_[contender] = await loopOnce({ receiver, total, concurrency, seconds: loopSeconds, handlers });
      } else {
        round_[contender] = await bullmqOnce({ client: contender.slice('bullmq-'.length), receiver, events, handlers, concurrency, redisUrl, redisPid: redis.pid, round: r });
      }
    }
    round_.loadAverage = loadAverage();
    const x = (c) => round_[c];
    round_.ratios = {
      'bullmq-axios': round(x('dispatch').rate / x('bullmq-axios').rate, 3),
      'bullmq-undici': round(x('dispatch').rate / x('bullmq-undici').rate, 3),
      'undici-loop': round(x('dispatch').rate / x('undici-loop').rate, 3),
    };
    const loopCpu = x('undici-loop').cpu.sender;
    round_.efficiency = Object.fromEntries(CONTENDERS.filter((c) => c !== 'undici-loop').map((c) => [c, x(c).cpu.sender && loopCpu ? round(x(c).cpu.sender / loopCpu, 2) : null]));
    all.push(round_);
    log(
      `  ${name} peers round ${r + 1}/${rounds} (${order.join(' → ')}): ` +
        CONTENDERS.map((c) => `${c} ${x(c).rate}/s (sender ${x(c).cpu.sender} µs${x(c).cpu.server === null ? '' : `, ${c === 'dispatch' ? 'db' : 'redis'} ${x(c).cpu.server} µs`}, receiver ${x(c).cpu.receiver} µs)`).join('; ') +
        `; dispatch ÷ bullmq-axios ${round_.ratios['bullmq-axios']}, ÷ bullmq-undici ${round_.ratios['bullmq-undici']}; service CPU ÷ loop CPU ${round_.efficiency.dispatch}`,
    );
    for (const c of ['bullmq-axios', 'bullmq-undici']) {
      const check = x(c).check;
      if (check.completed !== total || check.failed > 0) log(`  ${name} ${c}: ${check.completed} of ${total} completed, ${check.failed} failed ${check.failures.join('; ')}`);
    }
    const done = x('dispatch').check;
    if (done.succeeded !== total || done.logged !== total) log(`  ${name} dispatch: ${done.succeeded} of ${total} succeeded, ${done.logged} logged`);
  }

  const summary = {};
  for (const c of CONTENDERS) {
    const pick = (f) => all.map((r) => f(r[c]));
    const rates = pick((v) => v.rate);
    const cpu = {};
    for (const part of ['sender', 'server', 'receiver']) cpu[part] = { median: round(median(pick((v) => v.cpu[part]))), ...spread(pick((v) => v.cpu[part])) };
    const totals = pick((v) => (v.cpu.sender ?? 0) + (v.cpu.server ?? 0) + (v.cpu.receiver ?? 0));
    cpu.total = { median: round(median(totals)), ...spread(totals) };
    const { min, max } = spread(rates);
    const mid = median(rates);
    summary[c] = { rate: round(mid), min, max, spreadPct: mid ? round(((max - min) / mid) * 100, 1) : null, cpu };
  }
  const ratio = (c) => {
    const values = all.map((r) => r.ratios[c]);
    return { median: round(median(values), 3), ...spread(values) };
  };
  const efficiency = (c) => {
    const values = all.map((r) => r.efficiency[c]);
    return { median: round(median(values), 2), ...spread(values) };
  };
  return {
    deliveries: total,
    events,
    handlersPerEvent: handlerCount,
    concurrency,
    rounds,
    loopSeconds,
    redis: { url: redisUrl, version: redis.version },
    versions: versions(),
    summary,
    ratios: { 'bullmq-axios': ratio('bullmq-axios'), 'bullmq-undici': ratio('bullmq-undici'), 'undici-loop': ratio('undici-loop') },
    // CPU per delivery of the sending process ÷ the bare undici loop's sender CPU per POST, same round.
    efficiency: { dispatch: efficiency('dispatch'), 'bullmq-axios': efficiency('bullmq-axios'), 'bullmq-undici': efficiency('bullmq-undici') },
    loadAverage: { min: Math.min(...all.map((r) => r.loadAverage?.[0] ?? Infinity)), max: Math.max(...all.map((r) => r.loadAverage?.[0] ?? -Infinity)) },
    runs: all,
  };
}

function versions() {
  const of = (name) => {
    try {
      return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version;
    } catch {
      return null;
    }
  };
  return Object.fromEntries(['bullmq', 'ioredis', '@nestjs/bullmq', '@nestjs/axios', 'axios', '@nestjs/core', 'undici'].map((n) => [n, of(n)]));
}
