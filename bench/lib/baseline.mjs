// Baseline senders for the dispatch benchmark, run in a process of their own: the same number
// of POSTs of one signed body to the receiver, from a plain keep-alive loop at a fixed
// concurrency. `undici`: an undici Pool. `dispatcher-client`: the HttpExecutor the
// dispatcher calls handlers with (built from dist/), so its own per-call work is included.
//
// Started by dispatch.mjs and peers.mjs with fork(); gets its job as one IPC message
// ({client, url, count, concurrency, body, headers, secret, seconds?}), answers one.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function undiciSender({ url, concurrency, headers, body }) {
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: concurrency, keepAliveTimeout: 60_000 });
  return {
    async send() {
      const res = await pool.request({ path: target.pathname, method: 'POST', headers, body });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`receiver answered ${res.statusCode}`);
    },
    close: () => pool.close(),
  };
}

/** The dispatcher's own client: HttpExecutor, as the service's DI container builds it. */
async function dispatcherClient({ url, concurrency, secret }) {
  const dist = (path) => import(pathToFileURL(resolve('dist/src', path)).href);
  // src/calls/ since the call was split into request and transport; src/dispatcher/ before (older commits).
  const { HttpExecutor } = await dist('calls/http-executor.js').catch(() => dist('dispatcher/http-executor.js'));
  const { loadConfig } = await dist('config/app-config.js');
  const config = loadConfig({ DISPATCH_CONCURRENCY: String(concurrency), DATABASE_URL: 'sqlite::memory:' });
  let executor;
  if (HttpExecutor.length >= 2) {
    const { HttpService } = await import('@nestjs/axios');
    executor = new HttpExecutor(new HttpService(), config);
  } else {
    executor = new HttpExecutor(config);
  }
  const target = new URL(url);
  const handler = {
    id: 1,
    name: 'baseline',
    type: 'http',
    task: `${target.host}${target.pathname}`,
    headers: {},
    timeoutMs: 15_000,
    signingSecret: secret,
    previousSecret: null,
    previousSecretExpiresAt: null,
  };
  let n = 0;
  return {
    async send(body) {
      const result = await executor.call(handler, body, `msg_d${++n}`);
      if (!result.ok) throw new Error(`call failed: ${result.error}`);
    },
    close: () => executor.onApplicationShutdown(),
  };
}

process.once('message', async (job) => {
  try {
    const sender = job.client === 'undici' ? await undiciSender(job) : await dispatcherClient(job);
    // A short warm-up on the same connections, not counted.
    for (let i = 0; i < Math.min(200, job.count); i++) await sender.send(job.body);
    // A fixed number of POSTs (`count`), or as many as fit in `seconds` (at least `count`).
    let next = 0;
    let done = 0;
    const cpuBefore = process.cpuUsage();
    const started = now();
    const deadline = job.seconds ? started + job.seconds * 1000 : 0;
    const more = deadline ? () => next < job.count || now() < deadline : () => next < job.count;
    await Promise.all(
      Array.from({ length: job.concurrency }, async () => {
        while (more()) {
          next += 1;
          await sender.send(job.body);
          done += 1;
        }
      }),
    );
    const seconds = (now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    await sender.close();
    const warmup = Math.min(200, job.count);
    process.send({ ok: true, count: done, warmup, seconds, rate: done / seconds, cpuUsPerCall: (cpu.user + cpu.system) / done });
  } catch (error) {
    process.send({ ok: false, error: error.stack ?? String(error) });
  }
  process.disconnect();
});
