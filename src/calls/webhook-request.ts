import { isIP } from 'node:net';
import { NetworkPolicy } from '../common/network-policy.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { parseHttpTask } from '../handlers/handler-target.js';
import { signatureHeaders } from './webhook-signer.js';

export const USER_AGENT = 'ProvisioningAPI/1';

/** Where a handler's task points: what the transport dials. */
export interface WebhookTarget {
  origin: string;
  path: string;
}

/** One request ready to send: the target, every header, the body. */
export interface WebhookRequest extends WebhookTarget {
  headers: Record<string, string>;
  body: string;
}

/** Why no request can be sent: the task does not parse, or its literal address is refused by the outbound policy. */
export type Unsendable = { invalid: string } | { refused: { address: string; reason: string } };

export type RequestHandler = Pick<HandlerEntity, 'type' | 'task' | 'headers' | 'signingSecret' | 'previousSecret' | 'previousSecretExpiresAt'>;

/**
 * The handler's task as a target. A literal address skips DNS, so the outbound policy judges
 * it here; names are judged at connect time on the addresses they resolve to (outbound-lookup.ts).
 */
export function webhookTarget(handler: Pick<HandlerEntity, 'type' | 'task'>, policy: NetworkPolicy): WebhookTarget | Unsendable {
  let url: URL;
  try {
    url = parseHttpTask(handler.type as 'http' | 'https', handler.task);
  } catch (error) {
    return { invalid: (error as Error).message };
  }
  const address = url.hostname.replace(/^\[|\]$/g, '');
  const reason = isIP(address) !== 0 ? policy.refusal(address) : null;
  if (reason !== null) return { refused: { address, reason } };
  return { origin: url.origin, path: url.pathname + url.search };
}

/** The secrets to sign with now: the current one, plus the previous one while its overlap lasts. */
export function signingSecrets(handler: Pick<HandlerEntity, 'signingSecret' | 'previousSecret' | 'previousSecretExpiresAt'>, now: number): string[] {
  const secrets = handler.signingSecret ? [handler.signingSecret] : [];
  if (handler.previousSecret && (handler.previousSecretExpiresAt ?? 0) > now) secrets.push(handler.previousSecret);
  return secrets;
}

/**
 * Every header of one call, in the order they win: the handler's custom headers (names in
 * lower case), then the Standard Webhooks headers (webhook-signer.ts; `webhook-id` alone
 * without a secret), then the fixed ones. handler-rules.ts refuses custom headers named like
 * the dispatcher's own at save time; a custom `accept` is replaced by the fixed one.
 *
 * Target authentication (basic, bearer, an OAuth2 client-credentials token) is `authorization`,
 * the header's value, which the caller already holds (src/calls/target-auth.ts): this stays
 * pure and synchronous; fetching or caching a token is not its job. handler-credentials.ts
 * refuses a custom Authorization header on a handler with auth, so the two never compete.
 */
export function webhookHeaders(handler: RequestHandler, webhookId: string, body: string, now: number, authorization?: string): Record<string, string> {
  const secrets = signingSecrets(handler, now);
  const signed = secrets.length > 0 ? signatureHeaders(secrets, webhookId, Math.floor(now / 1000), body) : { 'webhook-id': webhookId };
  const headers: Record<string, string> = {
    ...lowerCased(handler.headers),
    ...signed,
    accept: 'application/json, text/plain, */*',
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
  };
  if (authorization !== undefined) headers.authorization = authorization;
  return headers;
}

/**
 * Builds the request of each call. Pure but for a cache of parsed targets: a task is parsed
 * and judged once, not on every one of thousands of calls a second.
 */
export class WebhookRequests {
  private readonly targets = new Map<string, WebhookTarget | Unsendable>();

  constructor(private readonly policy: NetworkPolicy) {}

  /** `authorization`: the value of the Authorization header when the handler authenticates to its target (webhookHeaders). */
  build(handler: RequestHandler, body: string, webhookId: string, now: number, authorization?: string): WebhookRequest | Unsendable {
    const target = this.target(handler);
    if (!('origin' in target)) return target;
    return { origin: target.origin, path: target.path, headers: webhookHeaders(handler, webhookId, body, now, authorization), body };
  }

  /** The handler's target, parsed and judged once per task. */
  target(handler: Pick<HandlerEntity, 'type' | 'task'>): WebhookTarget | Unsendable {
    const key = `${handler.type} ${handler.task}`;
    let target = this.targets.get(key);
    if (!target) {
      target = webhookTarget(handler, this.policy);
      if (this.targets.size >= 10_000) this.targets.clear();
      this.targets.set(key, target);
    }
    return target;
  }
}

function lowerCased(headers: Record<string, string> | null | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers) for (const name of Object.keys(headers)) result[name.toLowerCase()] = headers[name]!;
  return result;
}
