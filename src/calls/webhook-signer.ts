/**
 * Standard Webhooks signing (https://www.standardwebhooks.com).
 *
 * Every request carries three headers:
 *  - `webhook-id`: the message id, identical on every retry of the same delivery;
 *  - `webhook-timestamp`: Unix time in whole seconds of this attempt;
 *  - `webhook-signature`: one or more space-separated `v1,<base64 HMAC-SHA256>` entries computed
 *    over `${id}.${timestamp}.${body}` with the secret's decoded key.
 *
 * Secrets look like `whsec_<standard padded base64 of the key bytes>`; the HMAC key is the
 * base64-decoded part after the prefix (not the text of the secret).
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SIGNING_SECRET_PREFIX = 'whsec_';
export const SIGNATURE_VERSION = 'v1';

const GENERATED_KEY_BYTES = 32;
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** Canonical standard base64 (RFC 4648 §4) with padding; length is checked separately. */
const BASE64 = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A type alias (not an interface) so it is assignable to Record<string, string> header maps. */
export type SignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** A fresh secret: 'whsec_' + base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return SIGNING_SECRET_PREFIX + randomBytes(GENERATED_KEY_BYTES).toString('base64');
}

/** Decodes the key of a well-formed secret, or returns null. */
function decodeKey(value: string): Buffer | null {
  if (typeof value !== 'string' || !value.startsWith(SIGNING_SECRET_PREFIX)) return null;
  const encoded = value.slice(SIGNING_SECRET_PREFIX.length);
  if (encoded.length === 0 || encoded.length % 4 !== 0 || !BASE64.test(encoded)) return null;
  const key = Buffer.from(encoded, 'base64');
  // Reject non-canonical encodings (stray bits in the last character).
  if (key.toString('base64') !== encoded) return null;
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) return null;
  return key;
}

/** True for 'whsec_' followed by valid padded base64 of 24..64 bytes. */
export function isSigningSecret(value: string): boolean {
  return decodeKey(value) !== null;
}

/** Decoded keys of the secrets in use, so a call does not decode and check its secret again. */
const decodedKeys = new Map<string, Buffer>();

function requireKey(secret: string): Buffer {
  const known = decodedKeys.get(secret);
  if (known) return known;
  const key = decodeKey(secret);
  if (key === null) {
    throw new Error(
      `Invalid signing secret: expected '${SIGNING_SECRET_PREFIX}' followed by base64 of ${MIN_KEY_BYTES}..${MAX_KEY_BYTES} bytes`,
    );
  }
  if (decodedKeys.size >= 10_000) decodedKeys.clear();
  decodedKeys.set(secret, key);
  return key;
}

function requireTimestamp(timestampSeconds: number): void {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new Error(`Invalid webhook timestamp: ${timestampSeconds} (expected whole Unix seconds)`);
  }
}

/**
 * Signature for one secret:
 * 'v1,' + base64(HMAC-SHA256(key = base64-decoded part after 'whsec_', `${id}.${timestampSeconds}.${body}`)).
 */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = requireKey(secret);
  requireTimestamp(timestampSeconds);
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `${SIGNATURE_VERSION},${mac}`;
}

/**
 * The three Standard Webhooks headers. With several secrets (rotation overlap) the signature
 * header lists one 'v1,…' per secret separated by a single space, current secret first.
 */
export function signatureHeaders(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): SignatureHeaders {
  if (secrets.length === 0) throw new Error('At least one signing secret is required');
  if (id.length === 0 || /[\u0000-\u001f\u007f]/.test(id)) {
    // Control characters (CR/LF…) cannot travel in a header value.
    throw new Error(`Invalid webhook id: ${JSON.stringify(id)}`);
  }
  requireTimestamp(timestampSeconds);
  const signatures = secrets.map((secret) => sign(secret, id, timestampSeconds, body));
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signatures.join(' '),
  };
}
