import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { HttpService } from '@nestjs/axios';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import { NetworkPolicy } from '../common/network-policy.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { parseHttpTask } from '../handlers/handler-target.js';
import { ForbiddenTargetError, policyLookup } from './outbound-lookup.js';
import { createUndiciAdapter, createUndiciAgent } from './undici-adapter.js';
import { parseRetryAfter } from './retry-policy.js';
import { signatureHeaders } from './webhook-signer.js';

/** What one call of a handler produced. */
export interface CallResult {
  ok: boolean;
  responseCode: number | null;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  /** From Retry-After on a 429/503 answer. */
  retryAfterMs: number | null;
  /** The receiver answered 410 Gone: it wants no more calls. */
  gone: boolean;
}

export const USER_AGENT = 'ProvisioningAPI/1';

/**
 * POSTs the envelope to an http/https handler with @nestjs/axios (over an undici keep-alive pool):
 * signed per Standard Webhooks, no redirects followed, the whole call bounded by the
 * handler's timeout, the response body read only up to the configured cap.
 */
@Injectable()
export class HttpExecutor implements OnApplicationShutdown {
  private readonly policy: NetworkPolicy;
  private readonly pool: ReturnType<typeof createUndiciAgent>;
  private readonly adapter: ReturnType<typeof createUndiciAdapter>;

  constructor(
    private readonly http: HttpService,
    private readonly config: AppConfig,
  ) {
    this.policy = new NetworkPolicy(config.outbound);
    this.pool = createUndiciAgent(policyLookup(this.policy, config.outbound.dnsServers), Math.max(config.dispatch.concurrency, 16));
    this.adapter = createUndiciAdapter(this.pool);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.destroy();
  }

  /** The secrets to sign with now: the current one, plus the previous one while its overlap lasts. */
  static signingSecrets(handler: HandlerEntity, now: number): string[] {
    const secrets = handler.signingSecret ? [handler.signingSecret] : [];
    if (handler.previousSecret && (handler.previousSecretExpiresAt ?? 0) > now) secrets.push(handler.previousSecret);
    return secrets;
  }

  async call(handler: HandlerEntity, body: string, webhookId: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const failure = (error: string, responseCode: number | null = null): CallResult => ({
      ok: false,
      responseCode,
      responseBody: null,
      error,
      durationMs: elapsed(),
      retryAfterMs: null,
      gone: false,
    });

    let url: URL;
    try {
      url = parseHttpTask(handler.type as 'http' | 'https', handler.task);
    } catch (error) {
      return failure((error as Error).message);
    }
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    const refusal = isIP(literal) !== 0 ? this.policy.refusal(literal) : null;
    if (refusal !== null) return failure(`${literal} may not be called: ${refusal}`);

    const now = Date.now();
    const secrets = HttpExecutor.signingSecrets(handler, now);
    const signed = secrets.length > 0 ? signatureHeaders(secrets, webhookId, Math.floor(now / 1000), body) : { 'webhook-id': webhookId };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await firstValueFrom(
        this.http.post<Readable>(url.toString(), body, {
          headers: {
            ...handler.headers,
            ...signed,
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
          },
          responseType: 'stream',
          maxRedirects: 0,
          validateStatus: () => true,
          transformRequest: [(data: unknown) => data],
          adapter: this.adapter,
          signal: stop ? AbortSignal.any([controller.signal, stop]) : controller.signal,
        }),
      );
      const responseBody = await readCapped(response.data, this.config.dispatch.responseBodyCapBytes);
      const status = response.status;
      const ok = status >= 200 && status < 300;
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers['retry-after'] as string | undefined, Date.now()) : null;
      let error: string | null = null;
      if (!ok) {
        error = status >= 300 && status < 400 ? `redirect (${status}) not followed` : `receiver answered ${status}`;
      }
      return { ok, responseCode: status, responseBody, error, durationMs: elapsed(), retryAfterMs, gone: status === 410 };
    } catch (error) {
      if (stop?.aborted) return failure('abandoned: the instance is shutting down');
      if (controller.signal.aborted) return failure(`timeout after ${timeoutMs} ms`);
      return failure(describeError(error));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Reads at most `cap` bytes of the body, then stops reading and drops the rest. */
async function readCapped(stream: Readable, cap: number): Promise<string> {
  if (cap === 0) {
    stream.destroy();
    return '';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    if (size < cap) chunks.push(buffer.subarray(0, cap - size));
    size += buffer.length;
    if (size >= cap) {
      stream.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof ForbiddenTargetError || error instanceof ForbiddenTargetError) {
    return ((cause as Error) ?? (error as Error)).message;
  }
  const code = (error as { code?: string })?.code;
  const messages: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset by the receiver',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed (temporary)',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    CERT_HAS_EXPIRED: 'TLS certificate expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
    ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
  };
  if (code && messages[code]) return messages[code]!;
  const message = (error as Error)?.message ?? String(error);
  if (/TARGET_FORBIDDEN|may not call/.test(message)) return message;
  return code ? `${code}: ${message}` : message;
}
