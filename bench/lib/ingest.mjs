// Ingest: events accepted per second through POST /api/v1/events and POST /api/v1/events/batch
// at several concurrencies (autocannon), with the same app's empty route and its liveness
// check measured in the same run as the ceiling of the framework.
import autocannon from 'autocannon';
import { createHandlers, adminClient, startService, newKey, createDatabase } from './service.mjs';
import { round, summarize } from './util.mjs';

let objectId = 0;
const eventBody = (id) => `{"event":"clients.update","object_id":${id},"data":{"id":${id},"name":"client ${id}","balance":"12.50"}}`;
const batchBody = (size) => {
  const events = [];
  for (let i = 0; i < size; i++) events.push(eventBody(++objectId));
  return `{"events":[${events.join(',')}]}`;
};

/** One autocannon run; answers requests/s, events/s and client-side latency percentiles (ms). */
async function measure({ url, method, key, connections, seconds, body, eventsPerRequest, expect }) {
  const latencies = [];
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
  const ok = latencies.length - (result.mismatches ?? 0);
  const stats = summarize(latencies);
  return {
    connections,
    seconds: round(result.duration, 2),
    requests: result.requests.total,
    'requests/s': round(ok / result.duration),
    'events/s': eventsPerRequest ? round((ok * eventsPerRequest) / result.duration) : null,
    p50_ms: stats.p50,
    p99_ms: stats.p99,
    errors: result.errors + result.non2xx + (result.mismatches ?? 0),
  };
}

/**
 * Runs every ingest cell on one database kind: for each concurrency, the empty route, single
 * posts and batches. The service runs with INSTANCE_ROLE=api (stores, never delivers) and
 * `handlers` enabled handlers on the event, so every event is written with that many deliveries.
 */
export async function runIngest({ kind, serverUrl, concurrencies, seconds, warmupSeconds, batchSize, handlers, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({
    databaseUrl: db.url,
    key,
    env: { INSTANCE_ROLE: 'api', BENCH_EMPTY_ROUTE: 'true' },
  });
  try {
    const api = adminClient(service, key);
    // The receiver is never called here (api role); port 9 is the discard port.
    await createHandlers(api, 9, handlers);
    const cells = { empty: [], single: [], batch: [] };
    const run = async (name, options) => {
      if (warmupSeconds > 0) await measure({ ...options, seconds: warmupSeconds });
      const result = await measure({ ...options, seconds });
      log(
        `  ${kind} ${name} c=${options.connections}: ${result['events/s'] ?? result['requests/s']}/s p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms${result.errors ? `, ${result.errors} errors` : ''}`,
      );
      return result;
    };
    for (const connections of concurrencies) {
      cells.empty.push(
        await run('empty route', {
          url: `${service.url}/api/v1/bench/empty`,
          method: 'POST',
          key,
          connections,
          body: () => eventBody(++objectId),
          eventsPerRequest: 1,
        }),
      );
      cells.single.push(
        await run('POST /api/v1/events', {
          url: `${service.url}/api/v1/events`,
          method: 'POST',
          key,
          connections,
          body: () => eventBody(++objectId),
          eventsPerRequest: 1,
        }),
      );
      cells.batch.push(
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
    const health = await run('GET /health', { url: `${service.url}/health`, method: 'GET', connections: top });
    return { handlersPerEvent: handlers, batchSize, cells, health };
  } finally {
    await service.stop();
    await db.drop();
  }
}
