import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Encryption of secrets stored in the database (secrets at rest): AES-256-GCM through
 * node:crypto, a random 96-bit IV per value, the 128-bit authentication tag kept with it.
 *
 * A sealed value is text, so it fits any VARCHAR/TEXT column on SQLite and MySQL alike:
 *
 *     enc:v1:<key id>:<iv>:<tag>:<ciphertext>        (iv, tag and ciphertext in base64url)
 *
 * The key id names the key that encrypted the value, so a value written before a key rotation
 * is opened with the previous key and a value from an unknown key is reported as such. The id
 * is derived from the key (a truncated SHA-256 with a label), so operators never name keys and
 * the id reveals nothing of the key. `enc:v1:<key id>` is also the additional authenticated
 * data: a value cannot be passed off as another key's or another format version's.
 *
 * One API for every secret column: the owner of a column seals on write (`seal`) and opens on
 * load (`open`); the column is listed in SEALED_COLUMNS (src/secrets/sealed-columns.ts) so the
 * start-up step encrypts values written before encryption and re-encrypts after a rotation.
 */

export const SECRETS_KEY_BYTES = 32;
const FORMAT = 'enc:v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Base64 (standard or URL alphabet) of exactly 32 bytes: 43 characters and an optional '='. */
const KEY_TEXT = /^[A-Za-z0-9+/_-]{43}=?$/;

/** One configured key. `origin` says where it came from, for messages (never the key itself). */
export interface SecretKey {
  readonly id: string;
  readonly key: Buffer;
  readonly origin: string;
}

/** The id written into every value this key seals. */
export function secretKeyId(key: Buffer): string {
  return createHash('sha256').update('provisioning-api secrets key id\0').update(key).digest('base64url').slice(0, 8);
}

/** Decodes a key given as base64 (or base64url) of 32 bytes; null when it is not one. */
export function parseSecretKey(text: string): Buffer | null {
  const trimmed = text.trim();
  if (!KEY_TEXT.test(trimmed)) return null;
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === SECRETS_KEY_BYTES ? key : null;
}

/** A new random key, as the text SECRETS_KEY takes (base64 of 32 bytes). */
export function generateSecretKeyText(): string {
  return randomBytes(SECRETS_KEY_BYTES).toString('base64');
}

export function secretKey(key: Buffer, origin: string): SecretKey {
  return { id: secretKeyId(key), key, origin };
}

/** Why a stored value could not be opened. The message never contains the value. */
export class SecretUnreadableError extends Error {
  constructor(
    readonly reason: 'malformed' | 'unknown-key' | 'rejected',
    readonly keyId: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'SecretUnreadableError';
  }
}

/** The key id of a sealed value, or null when the value is not sealed (plain text written before encryption). */
export function sealedKeyId(value: string): string | null {
  if (!value.startsWith(`${FORMAT}:`)) return null;
  const id = value.split(':', 3)[2];
  return id && id.length > 0 ? id : null;
}

/** True for a value in the sealed format (of any key); false for plain text. */
export function isSealed(value: string): boolean {
  return value.startsWith('enc:');
}

export class SecretBox {
  private readonly keys: ReadonlyMap<string, SecretKey>;

  /** `current` seals; `current` and every `previous` key open. */
  constructor(
    readonly current: SecretKey,
    readonly previous: readonly SecretKey[] = [],
  ) {
    const keys = new Map<string, SecretKey>();
    for (const key of [current, ...previous]) if (!keys.has(key.id)) keys.set(key.id, key);
    this.keys = keys;
  }

  /** Encrypts with the current key; every call gives a different value (random IV). */
  seal(plaintext: string): string {
    const header = `${FORMAT}:${this.current.id}`;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(header, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${header}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ciphertext.toString('base64url')}`;
  }

  /** Decrypts a sealed value with the key it names; throws SecretUnreadableError otherwise. */
  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 6 || `${parts[0]}:${parts[1]}` !== FORMAT || !parts.slice(2).every((part) => BASE64URL.test(part))) {
      throw new SecretUnreadableError('malformed', null, `not a sealed value (${FORMAT}:<key id>:<iv>:<tag>:<ciphertext>)`);
    }
    const [, , keyId, ivText, tagText, ciphertextText] = parts as [string, string, string, string, string, string];
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (keyId.length === 0 || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new SecretUnreadableError('malformed', keyId || null, `not a sealed value (${FORMAT}:<key id>:<iv>:<tag>:<ciphertext>)`);
    }
    const key = this.keys.get(keyId);
    if (!key) throw new SecretUnreadableError('unknown-key', keyId, `encrypted with key ${keyId}, which is not configured`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(`${FORMAT}:${keyId}`, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError('rejected', keyId, `does not decrypt with key ${keyId} (${key.origin}): the value was altered`);
    }
  }

  sealNullable(plaintext: string | null): string | null {
    return plaintext === null ? null : this.seal(plaintext);
  }

  openNullable(sealed: string | null): string | null {
    return sealed === null ? null : this.open(sealed);
  }

  /** True when the value was sealed with the current key (nothing to re-encrypt). */
  isCurrent(sealed: string): boolean {
    return sealedKeyId(sealed) === this.current.id;
  }

  /** The configured keys, for messages: "SECRETS_KEY abcd1234, SECRETS_KEY_PREVIOUS efgh5678". */
  describeKeys(): string {
    return [...this.keys.values()].map((key) => `${key.origin} ${key.id}`).join(', ');
  }
}
