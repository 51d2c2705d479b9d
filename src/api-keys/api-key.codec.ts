import { hash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'pk_';

/** A new key: 32 random bytes, base64url. High entropy, so a plain SHA-256 is a sound storage hash. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** SHA-256 of the key, hex. The one-shot `hash` takes a third of what a Hash object costs: it runs on every authenticated request. */
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** What may be shown of a key: enough to recognise it, never enough to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, 10);
}
