import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import { generateSecretKeyText, parseSecretKey, SecretBox, secretKey, SecretKey } from './secret-box.js';

/**
 * The service cannot use its secrets: a key is missing, unreadable or not the one the database
 * needs. A problem of configuration, said in one line: it carries no stack, which would tell
 * the operator nothing (Nest prints the stack of an error raised while it builds providers).
 */
export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
    this.stack = `${this.name}: ${message}`;
  }
}

/** Where the current key came from, for the start output. */
export type KeySource =
  | { readonly kind: 'environment' }
  | { readonly kind: 'file'; readonly path: string; readonly generated: boolean }
  | { readonly kind: 'memory' };

/**
 * The configured keys: SECRETS_KEY, or else the key file (created with a new random key, owner-only,
 * when it does not exist yet: a fresh install); SECRETS_KEY_PREVIOUS for values of earlier keys.
 */
export async function loadSecretKeys(config: AppConfig['secrets']): Promise<{ box: SecretBox; source: KeySource }> {
  const previous = config.previousKeys.map((text) => secretKey(parseSecretKey(text)!, 'SECRETS_KEY_PREVIOUS'));
  let current: SecretKey;
  let source: KeySource;
  if (config.key !== undefined) {
    current = secretKey(parseSecretKey(config.key)!, 'SECRETS_KEY');
    source = { kind: 'environment' };
  } else if (config.keyFile === null) {
    // An in-memory SQLite database lives as long as the process: so does its key.
    current = secretKey(randomBytes(32), 'a key held in memory');
    source = { kind: 'memory' };
  } else {
    const { text, generated } = await readOrCreateKeyFile(config.keyFile);
    const key = parseSecretKey(text);
    if (key === null) {
      throw new SecretsKeyError(`The secrets key file ${config.keyFile} does not hold a key (base64 of 32 bytes); restore it from your backup, or set SECRETS_KEY`);
    }
    current = secretKey(key, `the key file ${config.keyFile}`);
    source = { kind: 'file', path: config.keyFile, generated };
  }
  // The current key listed again as a previous one adds nothing.
  return { box: new SecretBox(current, previous.filter((key) => key.id !== current.id)), source };
}

/**
 * Reads the key file, or creates it with a new key. The new file is written under a temporary
 * name with mode 0600 and then linked into place, which fails if the file exists: instances
 * starting together in one folder end up with the one key that was linked first.
 */
async function readOrCreateKeyFile(path: string): Promise<{ text: string; generated: boolean }> {
  try {
    return { text: await readFile(path, 'utf8'), generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SecretsKeyError(`The secrets key file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix its permissions, or set SECRETS_KEY`);
    }
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${generateSecretKeyText()}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, path);
    return { text: await readFile(path, 'utf8'), generated: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { text: await readFile(path, 'utf8'), generated: false };
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
