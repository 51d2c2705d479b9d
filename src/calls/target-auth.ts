import type { Dispatcher } from 'undici';
import { NetworkPolicy } from '../common/network-policy.js';
import type { HandlerEntity } from '../handlers/handler.entity.js';
import { parseTokenUrl } from '../handlers/handler-credentials.js';
import { OAuth2Token, TokenFetch } from './oauth2-token.js';
import type { UndiciTransport } from './undici-transport.js';
import { webhookTarget } from './webhook-request.js';

/** What a handler's calls need to know of its credentials (src/handlers/handler-credentials.ts). */
export type AuthenticatingHandler = Pick<HandlerEntity, 'id' | 'updatedAt' | 'auth' | 'authSecret' | 'clientCert' | 'clientKey' | 'clientCa'>;

/** Whether calls of `handler` authenticate to its target at all; the plain path asks nothing else. */
export function authenticates(handler: Pick<HandlerEntity, 'auth' | 'clientCert'>): boolean {
  return handler.auth != null || handler.clientCert != null;
}

/** How the calls of one handler authenticate, made once per change of the handler, not per call. */
export interface TargetAuth {
  /** basic or bearer: the Authorization header's value. */
  readonly authorization: string | undefined;
  /** oauth2: the handler's token, fetched and kept by it. */
  readonly oauth2: OAuth2Token | undefined;
  /** mTLS: the handler's own agent, with its client certificate. */
  readonly agent: Dispatcher | undefined;
  /** Why no call can authenticate (the token URL is no longer valid or allowed); no credential in it. */
  readonly unusable: string | undefined;
}

interface Entry {
  version: number;
  lastUsed: number;
  handler: AuthenticatingHandler;
  auth: TargetAuth;
}

/** An agent or a token unused this long is let go (the handler was deleted, or lost its credentials). */
const IDLE_MS = 10 * 60_000;

/**
 * The credentials of each handler that has some, ready for calls: the basic or bearer header
 * value, the OAuth2 token (kept until it expires), the mTLS agent. Kept per handler id and
 * made again when the handler's `updated_at` moves on, keeping the token and the agent when
 * what they were made of did not change (a rename does not cost a new token or new TLS
 * connections). A replaced agent is closed once its calls have ended; a call that still holds
 * an older copy of the handler uses the newest credentials. Entries idle for IDLE_MS go.
 */
export class TargetAuths {
  private readonly byHandler = new Map<number, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly policy: NetworkPolicy,
    private readonly transport: Pick<UndiciTransport, 'clientCertificateAgent'>,
    private readonly fetchToken: TokenFetch,
    private readonly clock: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(this.clock() - IDLE_MS), 60_000);
    this.sweeper.unref();
  }

  /** The credentials of `handler` as of its latest version seen. */
  of(handler: AuthenticatingHandler): TargetAuth {
    let entry = this.byHandler.get(handler.id);
    if (entry === undefined || handler.updatedAt > entry.version) {
      const auth = this.make(handler, entry);
      if (entry !== undefined && entry.auth.agent !== undefined && entry.auth.agent !== auth.agent) closeQuietly(entry.auth.agent);
      entry = { version: handler.updatedAt, lastUsed: 0, handler, auth };
      this.byHandler.set(handler.id, entry);
    }
    entry.lastUsed = this.clock();
    return entry.auth;
  }

  /** Lets go of entries unused since `before`, closing their agents. */
  sweep(before: number): void {
    for (const [id, entry] of this.byHandler) {
      if (entry.lastUsed >= before) continue;
      this.byHandler.delete(id);
      if (entry.auth.agent !== undefined) closeQuietly(entry.auth.agent);
    }
  }

  /** Ends every agent at once (the instance stops). */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const agents = [...this.byHandler.values()].flatMap((entry) => (entry.auth.agent === undefined ? [] : [entry.auth.agent]));
    this.byHandler.clear();
    await Promise.all(agents.map((agent) => agent.destroy().catch(() => undefined)));
  }

  private make(handler: AuthenticatingHandler, previous: Entry | undefined): TargetAuth {
    const before = previous?.handler;
    let agent: Dispatcher | undefined;
    if (handler.clientCert != null && handler.clientKey != null) {
      const same = before !== undefined && before.clientCert === handler.clientCert && before.clientKey === handler.clientKey && before.clientCa === handler.clientCa;
      agent = same && previous!.auth.agent !== undefined ? previous!.auth.agent : this.transport.clientCertificateAgent({ cert: handler.clientCert, key: handler.clientKey, ca: handler.clientCa ?? null });
    }
    const settings = handler.auth;
    const secret = handler.authSecret ?? '';
    if (settings == null) return { authorization: undefined, oauth2: undefined, agent, unusable: undefined };
    if (settings.type === 'basic') {
      return { authorization: `Basic ${Buffer.from(`${settings.username ?? ''}:${secret}`, 'utf8').toString('base64')}`, oauth2: undefined, agent, unusable: undefined };
    }
    if (settings.type === 'bearer') return { authorization: `Bearer ${secret}`, oauth2: undefined, agent, unusable: undefined };
    const tokenUrl = this.tokenUrl(settings.token_url ?? '');
    if (typeof tokenUrl === 'string') return { authorization: undefined, oauth2: undefined, agent, unusable: tokenUrl };
    const sameGrant =
      before?.auth?.type === 'oauth2' &&
      before.auth.token_url === settings.token_url &&
      before.auth.client_id === settings.client_id &&
      before.auth.scope === settings.scope &&
      before.auth.audience === settings.audience &&
      before.authSecret === handler.authSecret;
    const oauth2 =
      sameGrant && previous!.auth.oauth2 !== undefined
        ? previous!.auth.oauth2
        : new OAuth2Token({ tokenUrl, clientId: settings.client_id ?? '', clientSecret: secret, scope: settings.scope, audience: settings.audience }, this.fetchToken, this.clock);
    return { authorization: undefined, oauth2, agent, unusable: undefined };
  }

  /**
   * The token URL as a target: judged by the outbound policy like a handler's task (a literal
   * address here, a name at connect time). Checked when the handler was saved; checked again
   * because the policy may have changed since.
   */
  private tokenUrl(text: string): { origin: string; path: string } | string {
    let url: URL;
    try {
      url = parseTokenUrl(text);
    } catch {
      return 'the OAuth2 token URL is not a valid http:// or https:// URL';
    }
    const target = webhookTarget({ type: url.protocol === 'https:' ? 'https' : 'http', task: url.toString() }, this.policy);
    if ('origin' in target) return target;
    if ('refused' in target) return `the OAuth2 token URL's address ${target.refused.address} may not be called: ${target.refused.reason}`;
    return 'the OAuth2 token URL is not a valid http:// or https:// URL';
  }
}

function closeQuietly(agent: Dispatcher): void {
  agent.close().catch(() => undefined);
}
