// Cache: the time of one handler lookup (what ingest does per event) with 10 and with 10,000
// enabled handlers in the cache, measured in this process on the compiled HandlerIndex, the
// structure CacheManagerService.lookup reads. Also the time to build the index (a cache refresh
// or change rebuilds it).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { round } from './util.mjs';

const dist = (path) => import(pathToFileURL(resolve('dist/src', path)).href);

/** `count` enabled handlers: spread over every catalog event, one in ten on a group wildcard. */
function handlers(count, catalog) {
  const wildcards = ['clients.*', 'clients.accounts.*', 'dids.*', '*'];
  return Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    event: i % 10 === 9 ? wildcards[i % wildcards.length] : catalog[i % catalog.length],
    stage: i % 7 === 0 ? 'before' : 'after',
    status: 'enabled',
    priority: 1 + (i % 50),
    name: `handler ${i + 1}`,
  }));
}

function timeLookups(index, eventIds, lookups) {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < lookups; i++) sink += index.lookup(eventIds[i % eventIds.length], 'after').length;
  const ns = Number(process.hrtime.bigint() - started) / lookups;
  if (sink < 0) console.log(sink);
  return ns;
}

export async function runCache({ sizes, lookups, rounds, log }) {
  const { HandlerIndex } = await dist('cache-manager/handler-index.js');
  const { EVENT_CATALOG } = await dist('events/event-catalog.js');
  const catalog = EVENT_CATALOG.map((event) => event.id);
  const indexes = sizes.map((size) => {
    const list = handlers(size, catalog);
    const started = performance.now();
    const index = new HandlerIndex(list);
    return { size, index, buildMs: performance.now() - started };
  });
  for (const { index } of indexes) timeLookups(index, catalog, lookups); // warm-up: let the JIT settle
  // Rounds alternate between the sizes, so a noisy moment hits both; the fastest round of each counts.
  const best = new Map(sizes.map((size) => [size, Infinity]));
  for (let r = 0; r < rounds; r++) {
    for (const { size, index } of indexes) best.set(size, Math.min(best.get(size), timeLookups(index, catalog, lookups)));
  }
  const result = {};
  for (const { size, index, buildMs } of indexes) {
    result[size] = { 'lookup ns': round(best.get(size), 1), 'index build ms': round(buildMs, 2), 'matching handlers per lookup (avg)': round(avgMatches(index, catalog), 1) };
    log(`  cache with ${size} handlers: ${result[size]['lookup ns']} ns per lookup, index built in ${result[size]['index build ms']} ms`);
  }
  const [small, large] = sizes;
  result.ratio = round(result[large]['lookup ns'] / result[small]['lookup ns'], 2);
  return result;
}

function avgMatches(index, catalog) {
  return catalog.reduce((sum, id) => sum + index.lookup(id, 'after').length, 0) / catalog.length;
}
