// Cache: the time of one handler lookup (what ingest does per event) with 10 and with 10,000
// enabled handlers in the cache, measured in this process on the compiled HandlerIndex, the
// structure CacheManagerService.lookup reads. Also the time to build the index (a cache refresh
// or change rebuilds it).
//
// Payload filters: the same lookups through `select`, the call ingest makes with the event
// (src/cache-manager/handler-index.ts): once on the index without filters (the cost for
// handlers that have none) and once with a filter on every handler, compiled as the cache
// compiles them and counting misses in the metric as the cache does. Filters are evaluated
// only for the handlers of the looked-up event (the data is parsed once per lookup, when one of
// them has a filter), so with the handlers spread over the catalog the time grows with the
// handlers of the event, and the time per filter evaluated stays flat. The "crowd" figure
// holds the event's handlers still: the smallest set, filtered, plus the rest of the handlers
// (filtered too) on one event that is not looked up; it must not move from 10 to 10,000.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { round } from './util.mjs';

const dist = (path) => import(pathToFileURL(resolve('dist/src', path)).href);

/** Filters an integrator would write; handler i gets FILTERS[i % length]. Some match the sample data, some do not. */
const FILTERS = [
  { 'data.companies_id': 3 },
  { 'data.balance': { $lt: 0 } },
  { $or: [{ 'data.companies_id': { $in: [1, 2, 4] } }, { 'data.status': 'suspended' }] },
  { 'event.events_id': { $ne: 'clients.delete' }, 'data.tags': 'vip' },
  { 'data.custom_fields.crm': { $exists: true }, 'event.object_id': { $gte: 10 } },
];

/** The data of every sampled event, as ingest holds it (JSON text; parsed only when a filter needs it). */
const DATA_JSON = JSON.stringify({
  id: 12,
  name: 'client 12',
  companies_id: 3,
  currencies_id: 1,
  status: 'active',
  balance: -20.5,
  credit: '100.00',
  tags: ['vip', 'north'],
  custom_fields: { crm: 'A-1' },
});

/** `count` enabled handlers: spread over every catalog event, one in ten on a group wildcard; with `filtered`, each with a filter. */
function handlers(count, catalog, filtered = false) {
  const wildcards = ['clients.*', 'clients.accounts.*', 'dids.*', '*'];
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    event: i % 10 === 9 ? wildcards[i % wildcards.length] : catalog[i % catalog.length],
    stage: i % 7 === 0 ? 'before' : 'after',
    status: 'enabled',
    priority: 1 + (i % 50),
    name: `handler ${i + 1}`,
    filter: filtered ? FILTERS[i % FILTERS.length] : null,
  }));
}

/** ns per call of `lookup(i)`, over `lookups` calls. */
function time(lookups, lookup) {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++) sink += lookup(i).length;
  const ns = Number(process.hrtime.bigint() - started) / lookups;
  if (sink < 0) console.log(sink);
  return ns;
}

export async function runCache({ sizes, lookups, rounds, log }) {
  const { HandlerIndex } = await dist('cache-manager/handler-index.js');
  const { compileFilter } = await dist('handlers/handler-filter.js');
  const { MetricsService } = await dist('metrics/metrics.service.js');
  const { EVENT_CATALOG } = await dist('events/event-catalog.js');
  const catalog = EVENT_CATALOG.map((event) => event.id);
  const sources = catalog.map((eventType) => ({ eventType, objectId: 12, dt: '2026-11-22T10:15:30+00:00', dataJson: DATA_JSON }));
  const metrics = new MetricsService();
  const filteredOut = (handler) => metrics.countFilteredOut(handler.id);
  const testerOf = (handler) => (handler.filter === null ? null : compileFilter(handler.filter));
  const build = (list, withFilters) => {
    const started = performance.now();
    const index = withFilters ? new HandlerIndex(list, testerOf) : new HandlerIndex(list);
    return { index, buildMs: performance.now() - started };
  };

  // The crowd: the smallest set's handlers, and every other one on CROWD_EVENT, which no lookup asks for.
  const CROWD_EVENT = 'importd.process_failed';
  const crowdIds = catalog.map((id, i) => i).filter((i) => catalog[i] !== CROWD_EVENT);
  const smallest = handlers(sizes[0], catalog, true);
  if (smallest.some((h) => h.event === CROWD_EVENT || h.event === '*')) throw new Error(`the smallest set must leave ${CROWD_EVENT} alone`);
  const crowd = (size) => [
    ...smallest,
    ...handlers(size - smallest.length, catalog, true).map((h, i) => ({ ...h, id: smallest.length + i + 1, event: CROWD_EVENT })),
  ];

  const cells = sizes.map((size) => {
    const plain = build(handlers(size, catalog), false);
    const filtered = build(handlers(size, catalog, true), true);
    const crowded = build(crowd(size), true);
    const perLookup = avgMatches(plain.index, catalog);
    // A filtered lookup evaluates one filter per handler of the event: a quarter of `lookups` filters per round keeps the part short.
    const filteredLookups = Math.max(100, Math.round(lookups / 4 / Math.max(1, perLookup)));
    const measures = {
      lookup: () => time(lookups, (i) => plain.index.lookup(catalog[i % catalog.length], 'after')),
      selectPlain: () => time(lookups, (i) => plain.index.select(catalog[i % catalog.length], 'after', sources[i % catalog.length], filteredOut)),
      selectFiltered: () => time(filteredLookups, (i) => filtered.index.select(catalog[i % catalog.length], 'after', sources[i % catalog.length], filteredOut)),
      selectCrowd: () =>
        time(Math.round(lookups / 4), (i) => {
          const at = crowdIds[i % crowdIds.length];
          return crowded.index.select(catalog[at], 'after', sources[at], filteredOut);
        }),
    };
    return { size, plain, filtered, perLookup, measures, best: { lookup: Infinity, selectPlain: Infinity, selectFiltered: Infinity, selectCrowd: Infinity } };
  });
  for (const cell of cells) for (const measure of Object.values(cell.measures)) measure(); // warm-up: let the JIT settle
  // Rounds alternate between the sizes and the kinds, so a noisy moment hits all; the fastest round of each counts.
  for (let r = 0; r < rounds; r++) {
    for (const cell of cells) for (const [name, measure] of Object.entries(cell.measures)) cell.best[name] = Math.min(cell.best[name], measure());
  }
  const result = {};
  for (const { size, plain, filtered, perLookup, best } of cells) {
    result[size] = {
      'lookup ns': round(best.lookup, 1),
      'index build ms': round(plain.buildMs, 2),
      'matching handlers per lookup (avg)': round(perLookup, 1),
      'select ns, no filters': round(best.selectPlain, 1),
      'select ns, every handler filtered': round(best.selectFiltered, 1),
      'ns per filter evaluated': round(best.selectFiltered / perLookup, 1),
      'index build ms, every handler filtered': round(filtered.buildMs, 2),
      [`select ns, crowd (${sizes[0]} filtered + the rest elsewhere)`]: round(best.selectCrowd, 1),
    };
    const r = result[size];
    log(`  cache with ${size} handlers: ${r['lookup ns']} ns per lookup, index built in ${r['index build ms']} ms`);
    log(
      `    filters: ${r['select ns, no filters']} ns per lookup with the event when no handler has a filter; every handler filtered: ` +
        `${r['select ns, every handler filtered']} ns per lookup for ${r['matching handlers per lookup (avg)']} handlers, ` +
        `${r['ns per filter evaluated']} ns per filter (with the parse of the data); index built (filters compiled) in ` +
        `${r['index build ms, every handler filtered']} ms; crowd: ${r[`select ns, crowd (${sizes[0]} filtered + the rest elsewhere)`]} ns per lookup`,
    );
  }
  const [small, large] = sizes;
  result.ratio = round(result[large]['lookup ns'] / result[small]['lookup ns'], 2);
  const ratio = (key) => round(result[large][key] / result[small][key], 2);
  log(
    `  ${large} ÷ ${small} handlers: lookup ${result.ratio}, lookup with the event and no filters ${ratio('select ns, no filters')}, ` +
      `crowd of filtered handlers ${ratio(`select ns, crowd (${sizes[0]} filtered + the rest elsewhere)`)}, ` +
      `per filter evaluated ${ratio('ns per filter evaluated')}`,
  );
  return result;
}

function avgMatches(index, catalog) {
  return catalog.reduce((sum, id) => sum + index.lookup(id, 'after').length, 0) / catalog.length;
}
