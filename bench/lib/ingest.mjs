import { createServer } from 'node:http';
// Ingest: events accepted per second through POST /api/v1/events and POST /api/v1/events/batch
// at several concurrencies (autocannon), with the same app's empty route and its liveness
// check measured in the same run as the ceiling of the framework.
import autocannon from 'autocannon';
import { adminClient, cpuOf, createDatabase, createHandlers, databaseServerPid, newKey, startService } from './service.mjs';
import { round, summarize } from './util.mjs';

let objectId = 0;
const eventBody = (id, event = 'clients.update') => `{"event":"${event}","object_id":${id},"data":{"id":${id},"name":"client ${id}","balance":"12.50"}}`;
/**
 * The services this part starts keep the ingest rate limiter in the path (its counting is part
 * of a request's cost) with a limit no run reaches: at the default 10,000 requests a second per
 * key, a fast build's single ingest is answered 429 in bursts, which would measure the limit.
 */
const INGEST_ENV = { INGEST_RATE_LIMIT: '1000000' };
/**
 * The filtered set: as many handlers as the plain set, on clients.create, each with a payload
 * filter that the posted data matches, so an event writes the same rows as on the plain set
 * and the difference is what the filters cost (the data parsed once, each filter evaluated).
 */
const FILTERED_EVENT = 'clients.create';
const INGEST_FILTERS = [
  { 'data.name': { $exists: true } },
  { 'data.balance': { $in: ['12.50', '0.00'] }, 'event.events_id': { $ne: 'clients.delete' } },
  { $or: [{ 'event.object_id': { $gt: 0 } }, { 'data.companies_id': 3 }] },
];
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
 * posts and batches, single posts to handlers with payload filters (`filtered`), and at the top
 * concurrency GET /health. The service runs with INSTANCE_ROLE=api (stores, never delivers) and
 * `handlers` enabled handlers on the event, so every event is written with that many deliveries.
 *
 * Each cell is measured `rounds` times, the routes taking turns round by round, so a noisy
 * moment on the machine hits every route alike; a cell reports its median round (by rate),
 * and keeps every round's rate.
 */
export async function runIngest(options) {
  const { routes } = options;
  const cells = routes.some((route) => !VARIANT_ROUTES.includes(route))
    ? await runIngestCells({ ...options, routes: routes.filter((route) => !VARIANT_ROUTES.includes(route)) })
    : { handlersPerEvent: options.handlers, batchSize: options.batchSize, rounds: options.rounds, secondsPerRound: options.seconds, cells: { empty: [], single: [], batch: [] }, health: null };
  for (const route of VARIANT_ROUTES) if (routes.includes(route)) cells[route] = await runVariantCost(route, options);
  return cells;
}

async function runIngestCells({ kind, name = kind, serverUrl, concurrencies, routes, seconds, rounds, warmupSeconds, batchSize, handlers, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  const service = await startService({
    databaseUrl: db.url,
    key,
    env: { INSTANCE_ROLE: 'api', BENCH_EMPTY_ROUTE: 'true', ...INGEST_ENV },
  });
  const pids = { service: service.pid, server: kind === 'sqlite' ? null : databaseServerPid() };
  try {
    const api = adminClient(service, key);
    // The receiver is never called here (api role); port 9 is the discard port.
    await createHandlers(api, 9, handlers);
    if (routes.includes('filtered')) {
      await createHandlers(api, 9, handlers, FILTERED_EVENT, INGEST_FILTERS);
      // Every filter must match the posted events, or the route would write fewer rows than `single`.
      const probe = await api('POST', '/api/v1/events', JSON.parse(eventBody(++objectId, FILTERED_EVENT)));
      if (probe.deliveries.length !== handlers) throw new Error(`the filtered handlers took ${probe.deliveries.length} of ${handlers} deliveries`);
    }
    const kinds = {
      empty: { label: 'empty route', path: '/api/v1/bench/empty', body: () => eventBody(++objectId), eventsPerRequest: 1 },
      single: { label: 'POST /api/v1/events', path: '/api/v1/events', body: () => eventBody(++objectId), eventsPerRequest: 1 },
      filtered: {
        label: `POST /api/v1/events (${handlers} handlers with payload filters)`,
        path: '/api/v1/events',
        body: () => eventBody(++objectId, FILTERED_EVENT),
        eventsPerRequest: 1,
      },
      batch: {
        label: `POST /api/v1/events/batch (${batchSize} per request)`,
        path: '/api/v1/events/batch',
        body: () => batchBody(batchSize),
        eventsPerRequest: batchSize,
        expect: (text) => text.includes(`"accepted":${batchSize},`),
      },
      health: { label: 'GET /health', path: '/health', method: 'GET' },
    };
    const top = concurrencies[concurrencies.length - 1];
    const plan = concurrencies.map((connections) => ({
      connections,
      routes: [...routes.filter((route) => route in kinds && route !== 'health'), ...(connections === top && routes.includes('empty') ? ['health'] : [])],
    }));
    const cells = { empty: [], single: [], batch: [], filtered: [] };
    let health = null;
    for (const { connections, routes: here } of plan) {
      const results = Object.fromEntries(here.map((route) => [route, []]));
      const options = (route) => {
        const { path, method = 'POST', body, eventsPerRequest, expect } = kinds[route];
        return { url: `${service.url}${path}`, method, key: method === 'POST' ? key : undefined, connections, body, eventsPerRequest, expect };
      };
      if (warmupSeconds > 0) for (const route of here) await measure({ ...options(route), seconds: warmupSeconds });
      for (let round = 0; round < rounds; round++) {
        for (const route of here) results[route].push(await measure({ ...options(route), seconds, pids }));
      }
      for (const route of here) {
        const result = median(results[route]);
        log(
          `  ${name} ${kinds[route].label} c=${connections}: ${result['events/s'] ?? result['requests/s']}/s p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms` +
            `${result.errors ? `, ${result.errors} errors` : ''}; CPU µs each: service ${result.cpu_us.service}` +
            `${result.cpu_us.server === null ? '' : `, database server ${result.cpu_us.server}`}, load generator ${result.cpu_us.generator}` +
            (rounds > 1 ? ` (rounds: ${result.rounds.join(', ')})` : ''),
        );
        if (route === 'health') health = result;
        else cells[route].push(result);
      }
    }
    return { handlersPerEvent: handlers, batchSize, rounds, secondsPerRound: seconds, cells, health };
  } finally {
    await service.stop();
    await db.drop();
  }
}

/** The round with the median rate, with every round's rate. */
function median(results) {
  const rate = (result) => result['events/s'] ?? result['requests/s'];
  const sorted = [...results].sort((a, b) => rate(a) - rate(b));
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], rounds: results.map(rate) };
}

/**
 * Same-run comparisons of two services that differ only in their environment: `logging` (the
 * default LOG_LEVEL against `silent`, where no request gets a logger and nothing is written, both
 * with LOG_FORMAT=json as in production) and `tracing` (OpenTelemetry on, exporting every span
 * as OTLP/HTTP JSON to a local sink, against off, the default). The first variant ÷ the second,
 * per round, is the figure; the spread of the rounds is the noise of this machine during the run.
 */
const VARIANTS = {
  logging: {
    title: 'logging cost',
    ratio: 'default ÷ silent',
    variants: [
      { label: 'log', env: () => ({ LOG_FORMAT: 'json', LOG_LEVEL: 'log' }) },
      { label: 'silent', env: () => ({ LOG_FORMAT: 'json', LOG_LEVEL: 'silent' }) },
    ],
  },
  tracing: {
    title: 'tracing cost',
    ratio: 'on ÷ off',
    variants: [
      {
        label: 'on',
        env: (sink) => ({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sink}/v1/traces` }),
      },
      { label: 'off', env: () => ({}) },
    ],
  },
};
export const VARIANT_ROUTES = Object.keys(VARIANTS);

/** A local OTLP/HTTP endpoint that takes every export and answers 200 (the tracing variant's collector). */
async function startSink() {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * Single posts to the two services of one comparison (VARIANTS), each on a database of its own,
 * taking turns round by round (the order alternating) at the top concurrency.
 */
async function runVariantCost(route, { kind, name = kind, serverUrl, concurrencies, seconds, rounds, warmupSeconds, handlers, log }) {
  const { title, ratio: ratioLabel, variants } = VARIANTS[route];
  const connections = concurrencies[concurrencies.length - 1];
  const sink = await startSink();
  const services = [];
  try {
    for (const variant of variants) {
      const db = await createDatabase(kind, serverUrl);
      const key = newKey();
      const service = await startService({ databaseUrl: db.url, key, env: { INSTANCE_ROLE: 'api', ...INGEST_ENV, ...variant.env(sink.url) } }).catch(async (error) => {
        await db.drop();
        throw error;
      });
      services.push({ label: variant.label, db, key, service });
      await createHandlers(adminClient(service, key), 9, handlers);
    }
    const options = ({ service, key }) => ({ url: `${service.url}/api/v1/events`, method: 'POST', key, connections, body: () => eventBody(++objectId), eventsPerRequest: 1 });
    if (warmupSeconds > 0) for (const one of services) await measure({ ...options(one), seconds: warmupSeconds });
    const results = Object.fromEntries(variants.map((variant) => [variant.label, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? services : [...services].reverse();
      for (const one of order) results[one.label].push(await measure({ ...options(one), seconds, pids: { service: one.service.pid } }));
    }
    const rate = (result) => result['events/s'];
    const [first, second] = variants.map((variant) => variant.label);
    const ratios = results[first].map((result, round) => (rate(results[second][round]) ? Math.round((rate(result) / rate(results[second][round])) * 1000) / 1000 : null));
    const sorted = ratios.filter((ratio) => ratio !== null).sort((a, b) => a - b);
    const summary = {
      title,
      ratioLabel,
      connections,
      rounds,
      secondsPerRound: seconds,
      variants: Object.fromEntries(variants.map((variant) => [variant.label, median(results[variant.label])])),
      // first ÷ second, per round: below 1 is what the first variant costs.
      ratio: { median: sorted[Math.floor((sorted.length - 1) / 2)] ?? null, min: sorted[0] ?? null, max: sorted.at(-1) ?? null, rounds: ratios },
    };
    const line = (label) => {
      const r = summary.variants[label];
      return `${label} ${r['events/s']}/s (CPU µs each: service ${r.cpu_us.service})`;
    };
    log(`  ${name} ${title}, POST /api/v1/events c=${connections}: ${line(first)} vs ${line(second)}; ${ratioLabel} ${summary.ratio.median} [${summary.ratio.min}–${summary.ratio.max}]`);
    return summary;
  } finally {
    for (const { service, db } of services) {
      await service.stop();
      await db.drop();
    }
    await sink.stop();
  }
}
