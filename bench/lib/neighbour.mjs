// The noisy neighbour: does one target that never answers slow the others down?
//
// One service, one database, rounds of two phases of the same steady stream of events to
// healthy handlers (the receiver answers at once):
//   1. alone: no bad target (the bad handler paused, none of its calls open);
//   2. beside a bad target: `badEvents` deliveries are queued (once, at the start) to a handler
//      whose receiver accepts the connection and never answers (../receiver.mjs hang mode),
//      with the default timeout, retry limit and concurrency cap; it is resumed, takes its
//      calls, and the same stream runs.
// For each phase, the healthy handlers' 202 → received latency (the last healthy handler of
// each event, as ./latency.mjs measures it); the figure is p99 beside ÷ p99 alone (target: <= 2).
// Events that had not reached the receiver when the wait for stragglers ended count as later
// than every arrival: their percentiles read as "more than the wait" (null in the JSON, with
// `missing`), never as fast.
import { Pool } from 'undici';
import { adminClient, createDatabase, createHandlers, newKey, startService } from './service.mjs';
import { endToEnd, eventPoster, offer } from './latency.mjs';
import { now, percentile, sleep } from './util.mjs';

/**
 * One service and database; the phases alternate round by round (alone, beside, alone,
 * beside, …), so the time a fresh database takes to warm up and the machine's drift fall on
 * both alike. Between rounds the bad handler is paused (its deliveries held, its hanging calls
 * let go), so an "alone" phase really has no bad target; it is resumed for the next "beside"
 * phase. The circuit breaker is off (CIRCUIT_FAILURE_THRESHOLD=0): the part measures what the
 * per-handler cap alone does for the others, the breaker only ever takes the bad target out
 * sooner. The figure: median p99 beside ÷ median p99 alone, with every round's ratio beside it.
 */
export async function runNeighbour({ kind, name = kind, serverUrl, receiver, rate, seconds, handlers, badEvents, concurrency, settleSeconds, rounds = 1, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({ databaseUrl: db.url, key, env: { DISPATCH_CONCURRENCY: String(concurrency), CIRCUIT_FAILURE_THRESHOLD: '0' } });
  const pool = new Pool(service.url, { connections: 64, keepAliveTimeout: 60_000 });
  try {
    const api = adminClient(service, key);
    await createHandlers(api, receiver.port, handlers);
    // The bad target: its own event, so its deliveries hold no healthy event's order; the
    // handler's defaults (timeout, retry limit, concurrency cap) as an operator would leave them.
    const bad = await api('POST', '/api/v1/handlers', { name: 'never answers', event: 'dids.update', type: 'http', task: `127.0.0.1:${receiver.port}/hang`, priority: 1 });
    await api('POST', `/api/v1/handlers/${bad.id}/pause`, { reason: 'benchmark: alone phase' });
    const post = eventPoster(pool, key, (id) => `{"event":"clients.update","object_id":${id},"data":{"id":${id},"name":"client ${id}"}}`);

    // Warm-up at the same rate, not counted.
    await offer(post, rate, Math.min(1, seconds / 3), 1_000_000_000);
    await sleep(500);

    // The bad target's backlog, held while it is paused.
    for (let sent = 0; sent < badEvents; sent += 500) {
      const events = [];
      for (let i = sent; i < Math.min(badEvents, sent + 500); i++) events.push({ event: 'dids.update', object_id: 1 + i, data: { id: 1 + i } });
      await api('POST', '/api/v1/events/batch', { events });
    }

    const results = [];
    let firstId = 1;
    for (let round = 1; round <= rounds; round++) {
      const alone = await phase({ receiver, post, rate, seconds, handlers, settleSeconds, firstId });
      firstId += PHASE_IDS;
      log(`  ${name} round ${round} alone: ${describe(alone)}`);

      await api('POST', `/api/v1/handlers/${bad.id}/resume`);
      // The bad target holds its calls before the stream starts: as many as it is let take
      // (its cap), once that number stopped growing for half a second (at most 5 s of waiting).
      let last = -1;
      for (let waited = 0, still = 0; waited < 5_000 && still < 500; waited += 50) {
        const { hanging } = await receiver.ask('stats');
        still = hanging > 0 && hanging === last ? still + 50 : 0;
        last = hanging;
        await sleep(50);
      }
      const { hanging: heldAtStart } = await receiver.ask('stats');
      const beside = await phase({ receiver, post, rate, seconds, handlers, settleSeconds, firstId });
      firstId += PHASE_IDS;
      const { hanging: heldAtEnd, hung } = await receiver.ask('stats');
      log(`  ${name} round ${round} beside a target that never answers (calls held ${heldAtStart} at start, ${heldAtEnd} at end, ${hung} during): ${describe(beside)}`);

      // Take the bad target out again for the next "alone" phase.
      await api('POST', `/api/v1/handlers/${bad.id}/pause`, { reason: 'benchmark: alone phase' });
      await receiver.ask('reset', { release: true });
      await sleep(1_000);
      results.push({ alone, beside, callsHeld: { atStart: heldAtStart, atEnd: heldAtEnd }, p99Ratio: ratioOf(beside.p99_ms, alone.p99_ms), p99RatioAtLeast: ratioOf(beside.p99_ms ?? settleSeconds * 1000, alone.p99_ms) });
    }

    const median = (values) => {
      const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
      const value = sorted[Math.floor((sorted.length - 1) / 2)];
      return Number.isFinite(value) ? value : null;
    };
    const aloneP99 = median(results.map((r) => r.alone.p99_ms));
    const besideP99 = median(results.map((r) => r.beside.p99_ms));
    const ratio = ratioOf(besideP99, aloneP99);
    const ratioAtLeast = ratio ?? ratioOf(settleSeconds * 1000, aloneP99);
    const roundRatios = results.map((r) => r.p99Ratio ?? (r.p99RatioAtLeast === null ? null : `> ${r.p99RatioAtLeast}`));
    log(`  ${name} median p99 beside ÷ median p99 alone: ${ratio ?? `more than ${ratioAtLeast}`} (target <= 2); rounds: ${roundRatios.join(', ')}`);
    return {
      offeredRate: rate,
      seconds,
      healthyHandlers: handlers,
      badDeliveriesQueued: badEvents,
      badHandler: { id: bad.id, timeout_ms: bad.timeout_ms, retry_limit: bad.retry_limit, max_concurrency: bad.max_concurrency ?? null },
      concurrency,
      settleSeconds,
      rounds: results.length,
      // The round whose "beside" p99 is the median, for the tables.
      ...pick(results, besideP99),
      medianP99: { alone: aloneP99, beside: besideP99 },
      p99Ratio: ratio,
      p99RatioAtLeast: ratioAtLeast,
      roundRatios,
      roundResults: results,
    };
  } finally {
    // Let the held calls go, so the service's shutdown does not wait them out.
    await receiver.ask('reset', { release: true });
    await pool.close();
    await service.stop();
    await db.drop();
  }
}

/** Object ids of each phase start this far apart, so the phases' arrivals never mix. */
const PHASE_IDS = 10_000_000;

const ratioOf = (p99, base) => (p99 === null || p99 === undefined || base === null ? null : Math.round((p99 / Math.max(base, 0.01)) * 100) / 100);

function pick(results, besideP99) {
  const round = results.find((r) => r.beside.p99_ms === besideP99) ?? results[0];
  return { alone: round.alone, beside: round.beside, callsHeld: round.callsHeld };
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
  return { events: accepted.size, failures, missing, p50_ms: at(50), p95_ms: at(95), p99_ms: at(99), max_ms: missing > 0 ? null : at(100), maxBySecond: maxBySecond(accepted, arrivals, handlers, rate, firstId) };
}

/**
 * The slowest event of each second of the stream (by when it was sent; null: one never
 * arrived): tells a stall, where a few seconds hold every slow event, from a general slowdown.
 */
function maxBySecond(accepted, arrivals, handlers, rate, firstId) {
  const arrived = new Map();
  const seen = new Map();
  for (let i = 0; i < arrivals.length; i += 2) {
    const n = (seen.get(arrivals[i]) ?? 0) + 1;
    seen.set(arrivals[i], n);
    if (n === handlers) arrived.set(arrivals[i], arrivals[i + 1]);
  }
  const worst = [];
  for (const [id, answeredAt] of accepted) {
    const second = Math.floor((id - firstId) / rate);
    const at = arrived.get(id);
    const latency = at === undefined ? Infinity : Math.max(0, at - answeredAt);
    worst[second] = Math.max(worst[second] ?? 0, latency);
  }
  return Array.from(worst, (value) => (value === undefined ? 0 : Number.isFinite(value) ? Math.round(value) : null));
}

function describe(result) {
  const ms = (value) => (value === null ? 'not arrived' : `${value}`);
  return `202→healthy handler p50 ${ms(result.p50_ms)} / p95 ${ms(result.p95_ms)} / p99 ${ms(result.p99_ms)} ms (${result.events} events, ${result.missing} not arrived, ${result.failures} failed posts)`;
}
