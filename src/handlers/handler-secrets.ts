import type { SecretBox } from '../secrets/secret-box.js';
import type { HandlerEntity } from './handler.entity.js';

/**
 * The handler's secret columns at rest: `signing_secret`, `previous_secret` and the target
 * credentials' secrets `auth_secret` (a password, token or client secret) and `client_key` (an
 * mTLS private key) are stored sealed (src/secrets/secret-box.ts, listed in src/secrets/sealed-columns.ts). A row read
 * from the database is opened once, where it is loaded (HandlersService, CacheManagerService),
 * so everything downstream (the dispatcher's signing above all) holds the plain secret in
 * memory only; every write seals.
 */
export type HandlerSecrets = Pick<HandlerEntity, 'signingSecret' | 'previousSecret'> & Partial<Pick<HandlerEntity, 'authSecret' | 'clientKey'>>;

/** Decrypts the row's secrets in place and returns the row (the credential secrets when the row has them). */
export function openHandlerSecrets<T extends HandlerSecrets>(box: SecretBox, row: T): T {
  row.signingSecret = box.openNullable(row.signingSecret);
  row.previousSecret = box.openNullable(row.previousSecret);
  if (row.authSecret !== undefined) row.authSecret = box.openNullable(row.authSecret);
  if (row.clientKey !== undefined) row.clientKey = box.openNullable(row.clientKey);
  return row;
}

/** A copy of `handler` with its secrets encrypted, for writing (the credential secrets when it has them). */
export function withSealedSecrets<T extends HandlerSecrets>(box: SecretBox, handler: T): T {
  const sealed = { ...handler, signingSecret: box.sealNullable(handler.signingSecret), previousSecret: box.sealNullable(handler.previousSecret) };
  if (handler.authSecret !== undefined) sealed.authSecret = box.sealNullable(handler.authSecret);
  if (handler.clientKey !== undefined) sealed.clientKey = box.sealNullable(handler.clientKey);
  return sealed;
}
