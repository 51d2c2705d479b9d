import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { NetworkPolicy } from '../common/network-policy.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { abandonedCall, authFailedCall, CallResult, failedCall, refusedCall } from './call-result.js';
import { TOKEN_ANSWER_CAP_BYTES, TokenOutcome } from './oauth2-token.js';
import { policyLookup } from './outbound-lookup.js';
import { tracingEnabled } from '../telemetry/tracing.js';
import { CallThread } from './call-thread.js';
import { authenticates, TargetAuths } from './target-auth.js';
import { UndiciTransport } from './undici-transport.js';
import { WebhookRequest, WebhookRequests } from './webhook-request.js';

/**
 * Calls an http/https handler: builds the signed request (webhook-request.ts), then sends it
 * (undici-transport.ts). Queued deliveries, `before` decisions and test sends all come through
 * here, so a handler gets the same request on the wire whichever made it. A handler with
 * target credentials goes the authenticating way (target-auth.ts); the others pay one check.
 */
@Injectable()
export class HttpExecutor implements OnApplicationShutdown {
  private readonly requests: WebhookRequests;
  private readonly transport: UndiciTransport;
  /** Where plain calls go when DISPATCH_CALL_THREAD is on and tracing off; authenticated ones (mTLS agents, OAuth2 tokens) stay on this thread. */
  private readonly thread: CallThread | null;
  private readonly auths: TargetAuths;

  constructor(config: AppConfig) {
    const policy = new NetworkPolicy(config.outbound);
    this.requests = new WebhookRequests(policy);
    this.transport = new UndiciTransport(
      policyLookup(policy, config.outbound.dnsServers),
      Math.max(config.dispatch.concurrency, 16),
      config.dispatch.responseBodyCapBytes,
    );
    const { mode, allow, deny, dnsServers } = config.outbound;
    // With tracing on, calls stay here: the tracer's undici instrumentation makes each call's
    // client span and sends its traceparent, and it sees only this thread's requests.
    this.thread = config.dispatch.callThread && !tracingEnabled()
      ? new CallThread({ outbound: { mode, allow: [...allow], deny: [...deny], dnsServers: [...dnsServers] }, connections: Math.max(config.dispatch.concurrency, 16), capBytes: config.dispatch.responseBodyCapBytes })
      : null;
    // Token requests go over the shared pool: the same policy lookup, no redirect, a bound on the answer.
    this.auths = new TargetAuths(policy, this.transport, (request, timeoutMs) =>
      this.transport.send(request, timeoutMs, undefined, performance.now(), undefined, TOKEN_ANSWER_CAP_BYTES),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.thread?.close();
    await this.auths.close();
    await this.transport.close();
  }

  /** One call of `handler` with `body`; `stop` ends it early when the instance shuts down. */
  call(handler: HandlerEntity, body: string, webhookId: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    const started = performance.now();
    if (authenticates(handler)) return this.authenticatedCall(handler, body, webhookId, timeoutMs, stop, started);
    const request = this.requests.build(handler, body, webhookId, Date.now());
    if ('invalid' in request) return Promise.resolve(failedCall(request.invalid, performance.now() - started));
    if ('refused' in request) return Promise.resolve(refusedCall(request.refused.address, request.refused.reason, performance.now() - started));
    return this.thread ? this.thread.send(request, timeoutMs, stop, started) : this.transport.send(request, timeoutMs, stop, started);
  }

  /**
   * A call with the handler's credentials: the basic or bearer header, or an OAuth2 token
   * (fetched first when none is kept; within the call's timeout), and the handler's mTLS agent.
   * A 401 from the target drops the token it was sent with, so the next attempt gets a new one.
   */
  private async authenticatedCall(handler: HandlerEntity, body: string, webhookId: string, timeoutMs: number, stop: AbortSignal | undefined, started: number): Promise<CallResult> {
    const target = this.requests.target(handler);
    if ('invalid' in target) return failedCall(target.invalid, performance.now() - started);
    if ('refused' in target) return refusedCall(target.refused.address, target.refused.reason, performance.now() - started);
    const auth = this.auths.of(handler);
    if (auth.unusable !== undefined) return authFailedCall(auth.unusable, performance.now() - started);
    const oauth2 = auth.oauth2;
    let authorization = oauth2 === undefined ? auth.authorization : oauth2.valid();
    if (oauth2 !== undefined && authorization === undefined) {
      const token = await withinTimeout(oauth2.authorization(timeoutMs), timeoutMs - (performance.now() - started));
      if (stop?.aborted) return abandonedCall(performance.now() - started);
      if ('error' in token) return authFailedCall(token.error, performance.now() - started, token.timedOut);
      authorization = token.header;
    }
    // The target was judged above (and is kept parsed): this build cannot be refused.
    const request = this.requests.build(handler, body, webhookId, Date.now(), authorization) as WebhookRequest;
    const result = await this.transport.send(request, timeoutMs, stop, started, auth.agent);
    if (result.responseCode === 401 && oauth2 !== undefined && authorization !== undefined) oauth2.invalidate(authorization);
    return result;
  }
}

/** The token, or a timed-out outcome when the call's time runs out first (another call's token request may be slower). */
function withinTimeout(token: Promise<TokenOutcome>, remainingMs: number): Promise<TokenOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<TokenOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ error: 'OAuth2 token request did not end within the call\'s timeout', timedOut: true }), Math.max(0, remainingMs));
  });
  return Promise.race([token, late]).finally(() => clearTimeout(timer));
}
