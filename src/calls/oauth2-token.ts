import type { CallResult } from './call-result.js';
import { USER_AGENT, WebhookRequest, WebhookTarget } from './webhook-request.js';

/** An OAuth2 client-credentials grant (RFC 6749 §4.4): where to ask, and as whom. */
export interface ClientCredentialsGrant {
  tokenUrl: WebhookTarget;
  clientId: string;
  clientSecret: string;
  scope?: string;
  audience?: string;
}

/** A token's Authorization header value, or why there is none (no credential in it). */
export type TokenOutcome = { header: string } | { error: string; timedOut: boolean };

/** Sends a token request and answers what came back (src/calls/undici-transport.ts). */
export type TokenFetch = (request: WebhookRequest, timeoutMs: number) => Promise<CallResult>;

/** A token answer without `expires_in` is trusted for this long (a 401 from the target ends it sooner). */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000;
/** Most of a token answer that is read: tokens are a few KiB at most. */
export const TOKEN_ANSWER_CAP_BYTES = 64 * 1024;

/**
 * The token request: `grant_type=client_credentials` (with `scope` and `audience` when set) as
 * a form body, the client authenticated with HTTP basic, its id and secret form-encoded first
 * (RFC 6749 §2.3.1, the method every server must support).
 */
export function tokenRequest(grant: ClientCredentialsGrant): WebhookRequest {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (grant.scope !== undefined) form.set('scope', grant.scope);
  if (grant.audience !== undefined) form.set('audience', grant.audience);
  const client = `${formEncoded(grant.clientId)}:${formEncoded(grant.clientSecret)}`;
  return {
    origin: grant.tokenUrl.origin,
    path: grant.tokenUrl.path,
    headers: {
      authorization: `Basic ${Buffer.from(client, 'utf8').toString('base64')}`,
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': USER_AGENT,
    },
    body: form.toString(),
  };
}

/**
 * Reads the token endpoint's answer (RFC 6749 §5.1 and §5.2): a JSON object with a bearer
 * `access_token` and, usually, `expires_in` seconds. A refusal is told by its status and the
 * standard `error` code only: the rest of an error answer could echo what was sent.
 */
export function readTokenAnswer(result: CallResult): { token: string; lifetimeMs: number } | { error: string; timedOut: boolean } {
  if (result.responseCode === null) return { error: `OAuth2 token request failed: ${result.error ?? 'no answer'}`, timedOut: result.timedOut };
  let answer: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(result.responseBody ?? '');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) answer = parsed as Record<string, unknown>;
  } catch {
    answer = null;
  }
  if (result.responseCode < 200 || result.responseCode > 299) {
    const code = typeof answer?.error === 'string' && /^[\x21-\x7e]{1,64}$/.test(answer.error) ? ` (${answer.error})` : '';
    return { error: `OAuth2 token endpoint answered ${result.responseCode}${code}`, timedOut: false };
  }
  if (answer === null) return { error: `OAuth2 token endpoint answered ${result.responseCode} without a JSON object (or one past ${TOKEN_ANSWER_CAP_BYTES} bytes)`, timedOut: false };
  const token = answer.access_token;
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    return { error: 'OAuth2 token endpoint answered without a usable access_token', timedOut: false };
  }
  const type = answer.token_type;
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
    const named = typeof type === 'string' && /^[A-Za-z0-9_.-]{1,32}$/.test(type) ? ` ${type}` : '';
    return { error: `OAuth2 token endpoint answered a token of type${named}, not bearer`, timedOut: false };
  }
  const seconds = typeof answer.expires_in === 'string' ? Number(answer.expires_in) : answer.expires_in;
  const lifetimeMs = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
  return { token, lifetimeMs };
}

/**
 * One handler's OAuth2 token: fetched when a call needs one, kept until shortly before it
 * expires (a tenth of its lifetime early, at most 30 s), then fetched again. Calls that need a
 * token while one is being fetched wait for that one: a burst of deliveries costs one token
 * request. A failure is not kept: the next call (a retry, usually) asks again.
 */
export class OAuth2Token {
  private current: { header: string; expiresAt: number } | null = null;
  private pending: Promise<TokenOutcome> | null = null;

  constructor(
    readonly grant: ClientCredentialsGrant,
    private readonly fetch: TokenFetch,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The kept token's Authorization header value while it is valid: the common case, without a promise. */
  valid(): string | undefined {
    const current = this.current;
    return current !== null && this.clock() < current.expiresAt ? current.header : undefined;
  }

  /** The Authorization header value for a call now; `timeoutMs` bounds a token request this starts. */
  authorization(timeoutMs: number): Promise<TokenOutcome> {
    const current = this.current;
    if (current !== null && this.clock() < current.expiresAt) return Promise.resolve(current);
    if (this.pending === null) {
      const pending = this.request(timeoutMs);
      this.pending = pending;
      const done = () => {
        if (this.pending === pending) this.pending = null;
      };
      pending.then(done, done);
    }
    return this.pending;
  }

  /**
   * The target answered 401 to a call that carried `header`: that token is dropped, so the next
   * call fetches a new one. Only while it is still the current token: the 401s of a burst sent
   * with one token cost one new token, not one each.
   */
  invalidate(header: string): void {
    if (this.current?.header === header) this.current = null;
  }

  private async request(timeoutMs: number): Promise<TokenOutcome> {
    const asked = this.clock();
    const answer = readTokenAnswer(await this.fetch(tokenRequest(this.grant), timeoutMs));
    if ('error' in answer) return answer;
    const header = `Bearer ${answer.token}`;
    // Counted from when it was asked for: the token's clock started no earlier than that.
    this.current = { header, expiresAt: asked + answer.lifetimeMs - Math.min(30_000, answer.lifetimeMs / 10) };
    return { header };
  }
}

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 wants the client id and secret before HTTP basic. */
function formEncoded(text: string): string {
  return new URLSearchParams({ v: text }).toString().slice(2);
}
