import { userInfo } from 'node:os';
import type { Principal, RequestOrigin } from '../api-keys/auth.decorators.js';
import type { AuditActorType } from './audit-actions.js';

/** Who made a change, and from where, as an audit row names it. */
export interface AuditActor {
  type: AuditActorType;
  /** The API key's id; null for the keys command and the service. */
  keyId: number | null;
  /** The key's name at the time of the change, or what the command or the service is. */
  name: string;
  /** The request the change came with (address, request id); none for the keys command and the service. */
  origin?: RequestOrigin;
}

/** The API key making the request, and where the request came from. */
export function keyActor(principal: Principal): AuditActor {
  return { type: 'api_key', keyId: principal.keyId, name: principal.name, origin: principal.origin };
}

/** The keys command (`npm run keys`, src/cli/keys.ts) on the host, with the operating-system user that ran it when known. */
export function cliActor(): AuditActor {
  let user: string | null = null;
  try {
    user = userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers): the command is still named.
  }
  return { type: 'cli', keyId: null, name: user ? `npm run keys (user ${user})`.slice(0, 100) : 'npm run keys' };
}

/** The service acting on its own (a handler disabled after a 410, the first admin key). */
export const SYSTEM_ACTOR: AuditActor = Object.freeze({ type: 'system', keyId: null, name: 'provisioning service' });
