// End-to-end latency: events are posted at a fixed offered rate (open loop: the next post
// does not wait for earlier answers); for each event, the time from reading its 202 to the
// receiver (another process) getting the body. Both ends read the system's monotonic clock.
import { Pool } from 'undici';
import { adminClient, createDatabase, createHandlers, newKey, startService } from './service.mjs';
import { now, round, sleep, summarize } from './util.mjs';

export async function runLatency({ kind, name = kind, serverUrl, receiver, rate, seconds, handlers, concurrency, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({ databaseUrl: db.url, key, env: { DISPATCH_CONCURRENCY: String(concurrency) } });
  const pool = new Pool(service.url, { connections: 128, keepAliveTimeout: 60_000 });
  try {
    const api = adminClient(service, key);
    await createHandlers(api, receiver.port, handlers);
    const post = eventPoster(pool, key);
    // Warm-up: a second at the same rate, not counted.
    await offer(post, rate, Math.min(1, seconds / 3), 1_000_000_000);
    await sleep(Math.min(500, seconds * 100));

    await receiver.ask('reset', { record: true });
    const { accepted, acceptLatency, failures } = await offer(post, rate, seconds, 1);
    // Wait for the stragglers (at most 10 s).
    const expected = accepted.size * handlers;
    for (let waited = 0; waited < 10_000; waited += 100) {
      const { count } = await receiver.ask('stats');
      if (count >= expected) break;
      await sleep(100);
    }
    const { arrivals } = await receiver.ask('stats', { arrivals: true });
    const { latencies, beforeAnswer, missing } = endToEnd(accepted, arrivals, handlers);
    const e2e = summarize(latencies);
    const accept = summarize(acceptLatency);
    const result = {
      offeredRate: rate,
      seconds,
      handlersPerEvent: handlers,
      events: accepted.size,
      failures,
      missing,
      deliveredBeforeAnswerRead: beforeAnswer,
      endToEnd: { p50_ms: e2e.p50, p95_ms: e2e.p95, p99_ms: e2e.p99, max_ms: e2e.max },
      accept: { p50_ms: accept.p50, p95_ms: accept.p95, p99_ms: accept.p99 },
    };
    log(`  ${name} latency at ${rate}/s: 202→handler p50 ${e2e.p50} / p95 ${e2e.p95} / p99 ${e2e.p99} ms ` +
        `(accept p50 ${accept.p50} / p99 ${accept.p99} ms; ${accepted.size} events, ${missing} missing, ${failures} failed)`,
    );
    return result;
  } finally {
    await pool.close();
    await service.stop();
    await db.drop();
  }
}

/** The clients.update body of object `id`, as the latency parts post it. */
export const clientUpdate = (id, event = 'clients.update') => `{"event":"${event}","object_id":${id},"data":{"id":${id},"name":"client ${id}","balance":"12.50"}}`;

/**
 * Posts one event (the body `bodyOf(id)`) through `pool` with the key, and answers when its 202
 * was read; anything but a 202 throws. What every stream of the latency parts sends.
 */
export function eventPoster(pool, key, bodyOf = clientUpdate) {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  return async (id) => {
    const res = await pool.request({ path: '/api/v1/events', method: 'POST', headers, body: bodyOf(id) });
    await res.body.text();
    if (res.statusCode !== 202) throw new Error(`event ${id}: ${res.statusCode}`);
    return now();
  };
}

/**
 * For each accepted event (object id → when its 202 was read), the time until its body reached
 * the last of its `handlers` (they run one after another), from the receiver's arrivals (flat
 * pairs: object id, arrival time). A body that arrived before the 202 was read counts as 0.
 */
export function endToEnd(accepted, arrivals, handlers) {
  const arrivedAt = new Map();
  const seen = new Map();
  for (let i = 0; i < arrivals.length; i += 2) {
    const id = arrivals[i];
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    if (n === handlers) arrivedAt.set(id, arrivals[i + 1]);
  }
  const latencies = [];
  let beforeAnswer = 0;
  let missing = 0;
  for (const [id, answeredAt] of accepted) {
    const at = arrivedAt.get(id);
    if (at === undefined) {
      missing += 1;
      continue;
    }
    if (at < answeredAt) beforeAnswer += 1;
    latencies.push(Math.max(0, at - answeredAt));
  }
  return { latencies, beforeAnswer, missing };
}

/**
 * Posts at `rate` per second for `seconds` on a fixed schedule, whatever the answers do.
 * Answers the time each event's 202 was read, keyed by object id, and each post's latency
 * measured from its scheduled send time (so a stalled service cannot hide its queue).
 * With `seconds` null the stream goes on until `until()` says stop (checked before each send);
 * the post of id `firstId + n` was due at `started + n * 1000 / rate`, `sent` posts in all.
 */
export async function offer(post, rate, seconds, firstId, { until } = {}) {
  const total = seconds === null ? Infinity : Math.round(rate * seconds);
  const accepted = new Map();
  const acceptLatency = [];
  const inFlight = [];
  let failures = 0;
  const started = now();
  let sent = 0;
  while (sent < total && !until?.()) {
    const due = Math.min(total, Math.floor(((now() - started) / 1000) * rate) + 1);
    while (sent < due) {
      const id = firstId + sent;
      const scheduled = started + (sent * 1000) / rate;
      sent += 1;
      inFlight.push(
        post(id).then(
          (at) => {
            accepted.set(id, at);
            acceptLatency.push(at - scheduled);
          },
          () => {
            failures += 1;
          },
        ),
      );
    }
    const nextAt = started + (sent * 1000) / rate;
    await sleep(Math.max(0, nextAt - now()));
  }
  await Promise.all(inFlight);
  return { accepted, acceptLatency, failures, started, sent };
}
