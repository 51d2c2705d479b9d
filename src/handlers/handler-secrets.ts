import type { SecretBox } from '../secrets/secret-box.js';
import type { HandlerEntity } from './handler.entity.js';

/**
 * The handler's secret columns at rest: `signing_secret` and `previous_secret` are stored
 * sealed (src/secrets/secret-box.ts, listed in src/secrets/sealed-columns.ts). A row read
 * from the database is opened once, where it is loaded (HandlersService, CacheManagerService),
 * so everything downstream (the dispatcher's signing above all) holds the plain secret in
 * memory only; every write seals.
 */
export type HandlerSecrets = Pick<HandlerEntity, 'signingSecret' | 'previousSecret'>;

/** Decrypts the row's secrets in place and returns the row. */
export function openHandlerSecrets<T extends HandlerSecrets>(box: SecretBox, row: T): T {
  row.signingSecret = box.openNullable(row.signingSecret);
  row.previousSecret = box.openNullable(row.previousSecret);
  return row;
}

/** A copy of `handler` with its secrets encrypted, for writing. */
export function withSealedSecrets<T extends HandlerSecrets>(box: SecretBox, handler: T): T {
  return { ...handler, signingSecret: box.sealNullable(handler.signingSecret), previousSecret: box.sealNullable(handler.previousSecret) };
}
