import { ALL_EVENTS, isCatalogEvent, isOperationalEvent } from './event-catalog.js';

/**
 * What a handler's `event` may be: a catalog ID, `*` (every event of the vendor's catalog), or
 * a group wildcard `prefix.*` that matches every catalog ID starting with `prefix.` at any
 * depth (`clients.*` covers `clients.update` and `clients.accounts.create`; `clients.accounts.*`
 * only the account events). A wildcard must match at least one catalog event.
 *
 * The service's own operational events (`provisioning.*`) are matched by their IDs and by
 * `provisioning.*`, `provisioning.handler.*` and `provisioning.delivery.*`, never by `*`: a
 * handler of every business event expects CoreAPI data, and one that is failing would
 * otherwise be sent the news of its own failures.
 */
export function isValidEventPattern(pattern: string): boolean {
  if (pattern === '*' || isCatalogEvent(pattern)) return true;
  if (!/^[a-z_]+(\.[a-z_]+)*\.\*$/.test(pattern)) return false;
  return ALL_EVENTS.some((event) => matchesEvent(pattern, event.id));
}

export function matchesEvent(pattern: string, eventId: string): boolean {
  if (pattern === '*') return !isOperationalEvent(eventId);
  if (pattern.endsWith('.*')) return eventId.startsWith(pattern.slice(0, -1));
  return pattern === eventId;
}

/** The catalog IDs a pattern covers. */
export function expandEventPattern(pattern: string): string[] {
  return ALL_EVENTS.filter((event) => matchesEvent(pattern, event.id)).map((event) => event.id);
}
