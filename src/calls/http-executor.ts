import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { NetworkPolicy } from '../common/network-policy.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { CallResult, failedCall, refusedCall } from './call-result.js';
import { policyLookup } from './outbound-lookup.js';
import { UndiciTransport } from './undici-transport.js';
import { WebhookRequests } from './webhook-request.js';

/**
 * Calls an http/https handler: builds the signed request (webhook-request.ts), then sends it
 * (undici-transport.ts). Queued deliveries, `before` decisions and test sends all come through
 * here, so a handler gets the same request on the wire whichever made it.
 */
@Injectable()
export class HttpExecutor implements OnApplicationShutdown {
  private readonly requests: WebhookRequests;
  private readonly transport: UndiciTransport;

  constructor(config: AppConfig) {
    const policy = new NetworkPolicy(config.outbound);
    this.requests = new WebhookRequests(policy);
    this.transport = new UndiciTransport(
      policyLookup(policy, config.outbound.dnsServers),
      Math.max(config.dispatch.concurrency, 16),
      config.dispatch.responseBodyCapBytes,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
  }

  /** One call of `handler` with `body`; `stop` ends it early when the instance shuts down. */
  call(handler: HandlerEntity, body: string, webhookId: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    const started = performance.now();
    const request = this.requests.build(handler, body, webhookId, Date.now());
    if ('invalid' in request) return Promise.resolve(failedCall(request.invalid, performance.now() - started));
    if ('refused' in request) return Promise.resolve(refusedCall(request.refused.address, request.refused.reason, performance.now() - started));
    return this.transport.send(request, timeoutMs, stop, started);
  }
}
