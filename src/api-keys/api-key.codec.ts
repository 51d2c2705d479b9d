import { createHash, randomBytes } from 'node:crypto';

const KEY_PREFIX = 'pk_';

/** A new key: 32 random bytes, base64url. High entropy, so a plain SHA-256 is a sound storage hash. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What may be shown of a key: enough to recognise it, never enough to use it. */
export function displayPrefix(key: string): string {
  return key.slice(0, 10);
}
