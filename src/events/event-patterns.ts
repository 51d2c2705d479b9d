import { EVENT_CATALOG, isCatalogEvent } from './event-catalog.js';

/**
 * What a handler's `event` may be: a catalog ID, `*` (every event), or a group wildcard
 * `prefix.*` that matches every catalog ID starting with `prefix.` at any depth
 * (`clients.*` covers `clients.update` and `clients.accounts.create`; `clients.accounts.*`
 * only the account events). A wildcard must match at least one catalog event.
 */
export function isValidEventPattern(pattern: string): boolean {
  if (pattern === '*' || isCatalogEvent(pattern)) return true;
  if (!/^[a-z_]+(\.[a-z_]+)*\.\*$/.test(pattern)) return false;
  return EVENT_CATALOG.some((event) => matchesEvent(pattern, event.id));
}

export function matchesEvent(pattern: string, eventId: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return eventId.startsWith(pattern.slice(0, -1));
  return pattern === eventId;
}

/** The catalog IDs a pattern covers. */
export function expandEventPattern(pattern: string): string[] {
  return EVENT_CATALOG.filter((event) => matchesEvent(pattern, event.id)).map((event) => event.id);
}
