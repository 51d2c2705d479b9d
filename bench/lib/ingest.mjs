// Ingest: events accepted per second through POST /api/v1/events and POST /api/v1/events/batch
// at several concurrencies (autocannon), with the same app's empty route and its liveness
// check measured in the same run as the ceiling of the framework.
import autocannon from 'autocannon';
import { adminClient, cpuOf, createDatabase, createHandlers, databaseServerPid, newKey, startService } from './service.mjs';
import { round, summarize } from './util.mjs';

let objectId = 0;
const eventBody = (id) => `{"event":"clients.update","object_id":${id},"data":{"id":${id},"name":"client ${id}","balance":"12.50"}}`;
const batchBody = (size) => {
  const events = [];
  for (let i = 0; i < size; i++) events.push(eventBody(++objectId));
  return `{"events":[${events.join(',')}]}`;
};

/** One autocannon run; answers requests/s, events/s and client-side latency percentiles (ms). */
async function measure({ url, method, key, connections, seconds, body, eventsPerRequest, expect, pids = {} }) {
  const latencies = [];
  const cpu = () => ({ service: pids.service ? cpuOf(pids.service) : null, server: pids.server ? cpuOf(pids.server) : null, generator: process.cpuUsage() });
  const before = cpu();
  const instance = autocannon({
    url,
    method,
    connections,
    pipelining: 1,
    duration: seconds,
    headers: key ? { authorization: `Bearer ${key}`, 'content-type': 'application/json' } : {},
    requests: body ? [{ method, setupRequest: (req) => ({ ...req, body: body() }) }] : undefined,
    verifyBody: expect,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const after = cpu();
  const ok = latencies.length - (result.mismatches ?? 0);
  const stats = summarize(latencies);
  const units = eventsPerRequest ? ok * eventsPerRequest : ok;
  const perUnit = (from, to) => (from === null || to === null || units === 0 ? null : round(((to - from) * 1000) / units, 1));
  const generatorMs = (after.generator.user + after.generator.system - before.generator.user - before.generator.system) / 1000;
  return {
    connections,
    seconds: round(result.duration, 2),
    requests: result.requests.total,
    'requests/s': round(ok / result.duration),
    'events/s': eventsPerRequest ? round((ok * eventsPerRequest) / result.duration) : null,
    p50_ms: stats.p50,
    p99_ms: stats.p99,
    errors: result.errors + result.non2xx + (result.mismatches ?? 0),
    // CPU µs per event (per request for routes without events): the service, the database server, the load generator.
    cpu_us: { service: perUnit(before.service, after.service), server: perUnit(before.server, after.server), generator: perUnit(0, generatorMs) },
  };
}

/**
 * Runs every ingest cell on one database kind: for each concurrency, the empty route, single
 * posts and batches. The service runs with INSTANCE_ROLE=api (stores, never delivers) and
 * `handlers` enabled handlers on the event, so every event is written with that many deliveries.
 */
export async function runIngest({ kind, name = kind, serverUrl, concurrencies, routes, seconds, warmupSeconds, batchSize, handlers, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({
    databaseUrl: db.url,
    key,
    env: { INSTANCE_ROLE: 'api', BENCH_EMPTY_ROUTE: 'true' },
  });
  const pids = { service: service.pid, server: kind === 'sqlite' ? null : databaseServerPid() };
  try {
    const api = adminClient(service, key);
    // The receiver is never called here (api role); port 9 is the discard port.
    await createHandlers(api, 9, handlers);
    const cells = { empty: [], single: [], batch: [] };
    const run = async (label, options) => {
      if (warmupSeconds > 0) await measure({ ...options, seconds: warmupSeconds });
      const result = await measure({ ...options, seconds, pids });
      log(`  ${name} ${name} c=${options.connections}: ${result['events/s'] ?? result['requests/s']}/s p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms` +
          `${result.errors ? `, ${result.errors} errors` : ''}; CPU µs each: service ${result.cpu_us.service}` +
          `${result.cpu_us.server === null ? '' : `, database server ${result.cpu_us.server}`}, load generator ${result.cpu_us.generator}`,
      );
      return result;
    };
    for (const connections of concurrencies) {
      if (routes.includes('empty')) cells.empty.push(
        await run('empty route', {
          url: `${service.url}/api/v1/bench/empty`,
          method: 'POST',
          key,
          connections,
          body: () => eventBody(++objectId),
          eventsPerRequest: 1,
        }),
      );
      if (routes.includes('single')) cells.single.push(
        await run('POST /api/v1/events', {
          url: `${service.url}/api/v1/events`,
          method: 'POST',
          key,
          connections,
          body: () => eventBody(++objectId),
          eventsPerRequest: 1,
        }),
      );
      if (routes.includes('batch')) cells.batch.push(
        await run(`POST /api/v1/events/batch (${batchSize} per request)`, {
          url: `${service.url}/api/v1/events/batch`,
          method: 'POST',
          key,
          connections,
          body: () => batchBody(batchSize),
          eventsPerRequest: batchSize,
          expect: (text) => text.includes(`"accepted":${batchSize},`),
        }),
      );
    }
    const top = concurrencies[concurrencies.length - 1];
    const health = routes.includes('empty') ? await run('GET /health', { url: `${service.url}/health`, method: 'GET', connections: top }) : null;
    return { handlersPerEvent: handlers, batchSize, cells, health };
  } finally {
    await service.stop();
    await db.drop();
  }
}
