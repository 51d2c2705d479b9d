// Dispatch: deliveries per second from a filled queue to the local receiver, with the
// same-run baselines (a plain undici keep-alive loop, and the dispatcher's own client in a
// loop) sending the same number of POSTs of one signed body at the same concurrency.
import { createHmac } from 'node:crypto';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { adminClient, cpuOf, createDatabase, createHandlers, databaseServerPid, newKey, queryDatabase, sampleMemory, startService } from './service.mjs';
import { now, round, sleep } from './util.mjs';

const BASELINE = fileURLToPath(new URL('./baseline.mjs', import.meta.url));

/** The envelope the dispatcher sends for one of the preloaded events, and its Standard Webhooks headers. */
export function signedRequest(secret, objectId) {
  const body = `{"event":{"dt":"2026-11-22T10:15:30+00:00","events_id":"clients.update","object_id":${objectId}},"data":{"id":${objectId},"name":"client ${objectId}","balance":"12.50"}}`;
  const id = `msg_d${objectId}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    body,
    headers: {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': `v1,${signature}`,
      'content-type': 'application/json',
      'user-agent': 'ProvisioningAPI/1',
    },
  };
}

export function runBaseline(job) {
  return new Promise((resolve, reject) => {
    const child = fork(BASELINE, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answer = null;
    child.once('message', (message) => (answer = message));
    child.once('exit', (code) => {
      if (answer?.ok) resolve(answer);
      else reject(new Error(`baseline ${job.client}: ${answer?.error ?? `exited (${code}) without an answer`}`));
    });
    child.send(job);
  });
}

/** Fills the queue through the batch endpoint: `events` events, each with one delivery per handler. */
export async function preload(api, events, startId) {
  const batch = 500;
  let posted = 0;
  while (posted < events) {
    const size = Math.min(batch, events - posted);
    const items = Array.from({ length: size }, (_, i) => {
      const id = startId + posted + i;
      return { event: 'clients.update', object_id: id, dt: '2026-11-22T10:15:30+00:00', data: { id, name: `client ${id}`, balance: '12.50' } };
    });
    const answer = await api('POST', '/api/v1/events/batch', { events: items });
    if (answer.accepted !== size) throw new Error(`preload: ${JSON.stringify(answer).slice(0, 300)}`);
    posted += size;
  }
}

/**
 * One measurement: fill a fresh queue, run both baselines (unless `baselines` is false, as in the
 * peers part, which runs its own), then let a worker drain the queue.
 */
export async function dispatchOnce({ kind, name, serverUrl, receiver, deliveries, handlers, concurrency, log, baselines: withBaselines = true, loopSeconds = 0 }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const events = Math.ceil(deliveries / handlers);
  const total = events * handlers;
  try {
    // 1. Fill the queue with an instance that accepts but never delivers.
    const api1 = await startService({ databaseUrl: db.url, key, env: { INSTANCE_ROLE: 'api' } });
    let created;
    try {
      const api = adminClient(api1, key);
      created = await createHandlers(api, receiver.port, handlers);
      await preload(api, events, 1);
    } finally {
      await api1.stop();
    }

    // 2. Baselines: the same number of POSTs of one signed envelope, same receiver, same concurrency.
    const { body, headers } = signedRequest(created[0].signing_secret, 1);
    const url = `http://127.0.0.1:${receiver.port}/hook1`;
    const baselines = {};
    const baselineCpu = {};
    const receiverCpu = {};
    for (const client of withBaselines ? ['undici', 'dispatcher-client'] : []) {
      await receiver.ask('reset');
      const receiverBefore = cpuOf(receiver.pid);
      // At least `total` POSTs, and for at least `loopSeconds`: a loop of one second swings with every neighbour's burst.
      const result = await runBaseline({ client, url, count: total, seconds: loopSeconds, concurrency, body, headers, secret: created[0].signing_secret });
      baselines[client] = round(result.rate);
      baselineCpu[client] = round(result.cpuUsPerCall);
      // The loop's warm-up calls reach the receiver too.
      if (client === 'undici') receiverCpu.baseline = perDelivery(receiverBefore, cpuOf(receiver.pid), result.count + result.warmup);
      log(`  ${name} baseline ${client}: ${baselines[client]} POSTs/s, sender CPU ${baselineCpu[client]} µs per POST`);
    }

    // 3. The dispatcher drains the queue: time from the first to the last arrival at the receiver.
    await receiver.ask('reset', { target: total });
    const reached = receiver.reached();
    const started = now();
    const serverPid = kind === 'sqlite' ? null : databaseServerPid();
    let workerPid = null;
    const cpuAtFirst = {};
    receiver.onFirst(() => {
      cpuAtFirst.service = workerPid ? cpuOf(workerPid) : null;
      cpuAtFirst.server = serverPid ? cpuOf(serverPid) : null;
      cpuAtFirst.receiver = cpuOf(receiver.pid);
    });
    const worker = await startService({
      databaseUrl: db.url,
      key,
      env: { INSTANCE_ROLE: 'worker', DISPATCH_CONCURRENCY: String(concurrency) },
      onSpawn: (pid) => (workerPid = pid),
    });
    const memory = sampleMemory(worker.pid);
    let arrival;
    let peak;
    let cpuAtEnd;
    try {
      const limitMs = Math.max(120_000, total * 5);
      let timer;
      arrival = await Promise.race([reached, new Promise((resolve) => (timer = setTimeout(resolve, limitMs, null)))]);
      clearTimeout(timer);
      cpuAtEnd = { service: cpuOf(worker.pid), server: serverPid ? cpuOf(serverPid) : null, receiver: cpuOf(receiver.pid) };
      if (!arrival) {
        const { count } = await receiver.ask('stats');
        throw new Error(`dispatch: ${count} of ${total} deliveries arrived within ${limitMs / 1000} s`);
      }
      // Let the last outcomes be written before the check below.
      await sleep(1000);
    } finally {
      peak = memory.stop();
      await worker.stop();
    }
    const seconds = (arrival.at - arrival.first) / 1000;
    const rate = (total - 1) / seconds;
    // Deliveries with a success log row: a success leaves the queue (builds from before kept it there, and logged it too).
    const [{ succeeded }] = await queryDatabase(db, "SELECT COUNT(DISTINCT delivery_id) AS succeeded FROM execution_logs WHERE status = 'success' AND delivery_id IS NOT NULL");
    const [{ logged }] = await queryDatabase(db, "SELECT COUNT(*) AS logged FROM execution_logs WHERE status = 'success'");
    const result = {
      events,
      handlersPerEvent: handlers,
      deliveries: total,
      concurrency,
      loopSeconds,
      seconds: round(seconds, 2),
      'deliveries/s': round(rate),
      firstArrivalAfterStartMs: round(arrival.first - started),
      baselines: { 'undici/s': baselines.undici, 'dispatcher-client/s': baselines['dispatcher-client'] },
      ratio: {
        undici: round(rate / baselines.undici, 3),
        'dispatcher-client': round(rate / baselines['dispatcher-client'], 3),
      },
      check: { succeeded: Number(succeeded), logged: Number(logged) },
      memory: { peakRssMb: round(Math.max(peak.rssMb, peak.peakMb), 1) },
      cpu: {
        serviceUsPerDelivery: perDelivery(cpuAtFirst.service, cpuAtEnd.service, total - 1),
        databaseServerUsPerDelivery: perDelivery(cpuAtFirst.server, cpuAtEnd.server, total - 1),
        receiverUsPerDelivery: perDelivery(cpuAtFirst.receiver, cpuAtEnd.receiver, total - 1),
        baselineSenderUsPerPost: { undici: baselineCpu.undici, 'dispatcher-client': baselineCpu['dispatcher-client'] },
        baselineReceiverUsPerPost: receiverCpu.baseline,
      },
    };
    log(`  ${name} dispatch: ${result['deliveries/s']} deliveries/s (${total} in ${result.seconds} s), ` +
        (withBaselines ? `÷ undici ${result.ratio.undici}, ÷ dispatcher client ${result.ratio['dispatcher-client']}, ` : '') +
        `peak RSS ${result.memory.peakRssMb} MB, ` +
        `${result.check.succeeded} succeeded / ${result.check.logged} logged; CPU per delivery: service ${result.cpu.serviceUsPerDelivery} µs` +
        (result.cpu.databaseServerUsPerDelivery === null ? '' : `, database server ${result.cpu.databaseServerUsPerDelivery} µs`) +
        `, receiver ${result.cpu.receiverUsPerDelivery} µs` +
        (withBaselines ? ` (${result.cpu.baselineReceiverUsPerPost} µs per undici-loop POST)` : ''),
    );
    return result;
  } finally {
    await db.drop();
  }
}

/**
 * Dispatch, measured `repeats` times, each on a fresh queue with its own baselines: the figures
 * are the medians (memory: the highest peak), every run is kept under `runs`.
 */
export async function runDispatch({ kind, name = kind, repeats = 1, log, ...options }) {
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await dispatchOnce({ kind, name, log, ...options }));
  const mid = (pick) => {
    const values = runs.map(pick).filter((value) => value !== null && value !== undefined).sort((a, b) => a - b);
    return values.length === 0 ? null : values[Math.floor((values.length - 1) / 2)];
  };
  const range = (pick) => {
    const values = runs.map(pick).filter((value) => value !== null && value !== undefined);
    return values.length === 0 ? { min: null, max: null } : { min: Math.min(...values), max: Math.max(...values) };
  };
  const rate = mid((run) => run['deliveries/s']);
  const undici = mid((run) => run.baselines['undici/s']);
  const client = mid((run) => run.baselines['dispatcher-client/s']);
  const first = runs[0];
  return {
    events: first.events,
    handlersPerEvent: first.handlersPerEvent,
    deliveries: first.deliveries,
    concurrency: first.concurrency,
    repeats,
    'deliveries/s': rate,
    baselines: { 'undici/s': undici, 'dispatcher-client/s': client },
    ratio: { undici: round(rate / undici, 3), 'dispatcher-client': round(rate / client, 3) },
    // min–max of the runs, next to the medians above.
    spread: {
      'deliveries/s': range((run) => run['deliveries/s']),
      'undici/s': range((run) => run.baselines['undici/s']),
      'dispatcher-client/s': range((run) => run.baselines['dispatcher-client/s']),
      serviceUsPerDelivery: range((run) => run.cpu.serviceUsPerDelivery),
      baselineSenderUsPerPost: range((run) => run.cpu.baselineSenderUsPerPost.undici),
    },
    loopSeconds: first.loopSeconds,
    check: { succeeded: Math.min(...runs.map((run) => run.check.succeeded)), logged: Math.min(...runs.map((run) => run.check.logged)) },
    memory: { peakRssMb: Math.max(...runs.map((run) => run.memory.peakRssMb)) },
    cpu: {
      serviceUsPerDelivery: mid((run) => run.cpu.serviceUsPerDelivery),
      databaseServerUsPerDelivery: mid((run) => run.cpu.databaseServerUsPerDelivery),
      receiverUsPerDelivery: mid((run) => run.cpu.receiverUsPerDelivery),
      baselineReceiverUsPerPost: mid((run) => run.cpu.baselineReceiverUsPerPost),
      baselineSenderUsPerPost: {
        undici: mid((run) => run.cpu.baselineSenderUsPerPost.undici),
        'dispatcher-client': mid((run) => run.cpu.baselineSenderUsPerPost['dispatcher-client']),
      },
    },
    runs,
  };
}

/** CPU µs per delivery between two readings in ms (null when a reading is missing, e.g. the service started after the first arrival). */
function perDelivery(from, to, count) {
  return from === null || from === undefined || to === null || to === undefined ? null : round(((to - from) * 1000) / count);
}
