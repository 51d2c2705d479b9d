import { findEvent } from './event-catalog.js';

/**
 * The exact body a handler receives (the vendor's payload envelope). `data` is kept as the JSON text it was
 * stored as, so the envelope is assembled without parsing and re-serialising it.
 */
export function envelopeJson(eventType: string, objectId: number, dt: string, dataJson: string): string {
  return `{"event":{"dt":${JSON.stringify(dt)},"events_id":${JSON.stringify(eventType)},"object_id":${objectId}},"data":${dataJson}}`;
}

/** Events about the same entity instance share a key; their deliveries start in acceptance order. */
export function objectKey(eventType: string, objectId: number): string {
  const entity = findEvent(eventType)?.entity ?? eventType.split('.')[0];
  return `${entity}:${objectId}`;
}

let lastSecond = NaN;
let lastIso = '';

/** Now as ISO 8601 with an explicit offset, the form of `event.dt` (whole seconds). */
export function isoWithOffset(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastIso = new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');
    lastSecond = second;
  }
  return lastIso;
}
