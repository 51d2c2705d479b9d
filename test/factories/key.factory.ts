import type { Scope } from '../../src/api-keys/scopes.js';
import { bearer, type TestApp } from '../utils/test-app.js';

/**
 * The Authorization header of a new key with these scopes (t.key: through the API with the
 * admin key, or on the host when `internal` is among them, as `npm run keys` makes them).
 */
export async function keyHeaders(t: Pick<TestApp, 'key'>, ...scopes: Scope[]): Promise<Record<string, string>> {
  return bearer(await t.key(...scopes));
}
