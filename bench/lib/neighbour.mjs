// The noisy neighbour: does one target that never answers slow the others down?
//
// One service, one database, two phases of the same steady stream of events to healthy
// handlers (the receiver answers at once):
//   1. alone: no bad target;
//   2. beside a bad target: first `badEvents` deliveries are queued to a handler whose receiver
//      accepts the connection and never answers (../receiver.mjs hang mode), with the default
//      timeout and retry limit, then the same stream runs.
// For each phase, the healthy handlers' 202 → received latency (the last healthy handler of
// each event, as ./latency.mjs measures it); the figure is p99 beside ÷ p99 alone (target: <= 2).
// Events that had not reached the receiver when the wait for stragglers ended count as later
// than every arrival: their percentiles read as "more than the wait" (null in the JSON, with
// `missing`), never as fast.
import { Pool } from 'undici';
import { adminClient, createDatabase, createHandlers, newKey, startService } from './service.mjs';
import { endToEnd, offer } from './latency.mjs';
import { now, percentile, sleep } from './util.mjs';

/** Object ids of the second phase start here, so the phases' arrivals never mix. */
const SECOND_PHASE_IDS = 100_000_000;

export async function runNeighbour({ kind, name = kind, serverUrl, receiver, rate, seconds, handlers, badEvents, concurrency, settleSeconds, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({ databaseUrl: db.url, key, env: { DISPATCH_CONCURRENCY: String(concurrency) } });
  const pool = new Pool(service.url, { connections: 64, keepAliveTimeout: 60_000 });
  try {
    const api = adminClient(service, key);
    await createHandlers(api, receiver.port, handlers);
    // The bad target: its own event, so its deliveries hold no healthy event's order; the
    // handler's defaults (timeout, retry limit) as an operator would leave them.
    const bad = await api('POST', '/api/v1/handlers', { name: 'never answers', event: 'dids.update', type: 'http', task: `127.0.0.1:${receiver.port}/hang`, priority: 1 });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const post = async (id) => {
      const res = await pool.request({
        path: '/api/v1/events',
        method: 'POST',
        headers,
        body: `{"event":"clients.update","object_id":${id},"data":{"id":${id},"name":"client ${id}"}}`,
      });
      await res.body.text();
      if (res.statusCode !== 202) throw new Error(`event ${id}: ${res.statusCode}`);
      return now();
    };

    // Warm-up at the same rate, not counted.
    await offer(post, rate, Math.min(1, seconds / 3), 1_000_000_000);
    await sleep(500);

    const alone = await phase({ receiver, post, rate, seconds, handlers, settleSeconds, firstId: 1 });
    log(`  ${name} alone: ${describe(alone)}`);

    for (let sent = 0; sent < badEvents; sent += 500) {
      const events = [];
      for (let i = sent; i < Math.min(badEvents, sent + 500); i++) events.push({ event: 'dids.update', object_id: 1 + i, data: { id: 1 + i } });
      await api('POST', '/api/v1/events/batch', { events });
    }
    // The bad target holds its calls before the stream starts (at most 5 s of waiting for it).
    const holding = Math.min(badEvents, concurrency);
    for (let waited = 0; waited < 5_000; waited += 50) {
      if ((await receiver.ask('stats')).hanging >= holding) break;
      await sleep(50);
    }
    const { hanging: heldAtStart } = await receiver.ask('stats');
    const beside = await phase({ receiver, post, rate, seconds, handlers, settleSeconds, firstId: SECOND_PHASE_IDS });
    const { hanging: heldAtEnd, hung } = await receiver.ask('stats');
    log(`  ${name} beside a target that never answers (${badEvents} deliveries queued; calls held ${heldAtStart} at start, ${heldAtEnd} at end, ${hung} during): ${describe(beside)}`);

    const ratioOf = (p99) => (p99 === null || alone.p99_ms === null ? null : Math.round((p99 / Math.max(alone.p99_ms, 0.01)) * 100) / 100);
    const ratio = ratioOf(beside.p99_ms);
    // Not arrived within the wait: each such event took longer than the wait itself (it was answered before the wait began).
    const ratioAtLeast = ratio ?? ratioOf(settleSeconds * 1000);
    log(`  ${name} p99 beside ÷ alone: ${ratio ?? `more than ${ratioAtLeast}`} (target <= 2)`);
    return {
      offeredRate: rate,
      seconds,
      healthyHandlers: handlers,
      badDeliveriesQueued: badEvents,
      badHandler: { id: bad.id, timeout_ms: bad.timeout_ms, retry_limit: bad.retry_limit },
      concurrency,
      settleSeconds,
      callsHeld: { atStart: heldAtStart, atEnd: heldAtEnd },
      alone,
      beside,
      p99Ratio: ratio,
      p99RatioAtLeast: ratioAtLeast,
    };
  } finally {
    // Let the held calls go, so the service's shutdown does not wait them out.
    await receiver.ask('reset', { release: true });
    await pool.close();
    await service.stop();
    await db.drop();
  }
}

/** One stream of `rate` events per second for `seconds`, then the wait for its stragglers; the latencies of its events. */
async function phase({ receiver, post, rate, seconds, handlers, settleSeconds, firstId }) {
  await receiver.ask('reset', { record: true });
  const { accepted, failures } = await offer(post, rate, seconds, firstId);
  const expected = accepted.size * handlers;
  for (let waited = 0; waited < settleSeconds * 1000; waited += 100) {
    if ((await receiver.ask('stats')).count >= expected) break;
    await sleep(100);
  }
  const { arrivals } = await receiver.ask('stats', { arrivals: true });
  const { latencies, missing } = endToEnd(accepted, arrivals, handlers);
  // Missing events are later than any arrival: sorted after them, as Infinity (read as null).
  const sorted = Float64Array.from([...latencies, ...Array(missing).fill(Infinity)]).sort();
  const at = (p) => {
    const value = percentile(sorted, p);
    return value === null || !Number.isFinite(value) ? null : Math.round(value * 100) / 100;
  };
  return { events: accepted.size, failures, missing, p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), max_ms: missing > 0 ? null : at(100) };
}

function describe(result) {
  const ms = (value) => (value === null ? 'not arrived' : `${value}`);
  return `202→healthy handler p50 ${ms(result.p50_ms)} / p95 ${ms(result.p95_ms)} / p99 ${ms(result.p99_ms)} ms (${result.events} events, ${result.missing} not arrived, ${result.failures} failed posts)`;
}
