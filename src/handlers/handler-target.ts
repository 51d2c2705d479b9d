import { isIP } from 'node:net';
import { DomainError } from '../common/errors.js';
import { NetworkPolicy } from '../common/network-policy.js';

/** Host names that resolve to cloud metadata services; refused like their addresses. */
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

/**
 * Parses an http/https task: `host[:port]/path` (the vendor's form, e.g. `127.0.0.1:5000/api`)
 * or a full URL of the handler's own scheme. Returns the normalised URL it will call.
 */
export function parseHttpTask(type: 'http' | 'https', task: string): URL {
  const text = task.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== type) {
    throw DomainError.field('INVALID_TASK', 'task', `task is a ${scheme}:// URL but the handler type is ${type}`);
  }
  let url: URL;
  try {
    url = new URL(scheme ? text : `${type}://${text}`);
  } catch {
    throw DomainError.field('INVALID_TASK', 'task', `task must be host[:port]/path or a full ${type}:// URL`);
  }
  if (!url.hostname || /\s/.test(text)) {
    throw DomainError.field('INVALID_TASK', 'task', `task must be host[:port]/path or a full ${type}:// URL`);
  }
  if (url.username || url.password) {
    throw DomainError.field('INVALID_TASK', 'task', 'task must not carry credentials; use custom headers for authentication');
  }
  if (url.hash) {
    throw DomainError.field('INVALID_TASK', 'task', 'task must not contain a #fragment');
  }
  return url;
}

/**
 * Save-time check of a target against the outbound network policy. Literal addresses are
 * judged here; names are judged again on every call, at connect time, after resolution.
 */
export function assertTargetAllowed(url: URL, policy: NetworkPolicy, field = 'task'): void {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const refusal = isIP(host) !== 0 ? policy.refusal(host) : METADATA_HOSTS.has(host.replace(/\.$/, '')) ? 'a cloud metadata service' : null;
  if (refusal !== null) {
    throw DomainError.field('TARGET_FORBIDDEN', field, `Target ${host} may not be called: ${refusal}`);
  }
}
