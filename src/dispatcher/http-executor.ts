import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Dispatcher } from 'undici';
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

/** Where a handler's task points, parsed once per task text. */
type Target = { origin: string; path: string; href: string; refused: string | null } | { invalid: string };

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** What a transport hands back: the status, the Retry-After header, the body up to the cap. */
interface Answer {
  status: number;
  retryAfter: string | string[] | undefined;
  body: string;
}

/**
 * POSTs the envelope to an http/https handler over an undici keep-alive pool: signed per
 * Standard Webhooks, no redirects followed, the whole call bounded by the handler's timeout,
 * the response body read only up to the configured cap.
 *
 * Queued deliveries (`call`) go to the pool directly: at thousands of calls a second, axios'
 * request pipeline costs several times the CPU of the call itself. Interactive calls — the
 * `before` chain and a handler's test send (`callViaHttpService`) — go through @nestjs/axios'
 * HttpService, whose axios adapter drives the same pool. Both give the same request on the wire.
 */
@Injectable()
export class HttpExecutor implements OnApplicationShutdown {
  private readonly policy: NetworkPolicy;
  private readonly pool: ReturnType<typeof createUndiciAgent>;
  private readonly adapter: ReturnType<typeof createUndiciAdapter>;
  private readonly targets = new Map<string, Target>();
  private readonly running = new WeakMap<AbortSignal, Set<CallAbort>>();

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

  /** One call of a queued delivery, straight to the undici pool (its dispatch interface: no stream, no promise per stage). */
  call(handler: HandlerEntity, body: string, webhookId: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    return this.send(handler, body, webhookId, timeoutMs, stop, (target, headers, abort, cap) => post(this.pool, target, headers, body, abort, cap));
  }

  /** One interactive call (decisions, test sends), through @nestjs/axios' HttpService. */
  callViaHttpService(handler: HandlerEntity, body: string, webhookId: string, timeoutMs = handler.timeoutMs): Promise<CallResult> {
    return this.send(handler, body, webhookId, timeoutMs, undefined, async (target, headers, abort, cap) => {
      const controller = new AbortController();
      abort.once('abort', () => controller.abort());
      const response = await firstValueFrom(
        this.http.post<Readable>(target.href, body, {
          headers,
          responseType: 'stream',
          maxRedirects: 0,
          validateStatus: () => true,
          transformRequest: [(data: unknown) => data],
          adapter: this.adapter,
          signal: controller.signal,
        }),
      );
      const answer = await readCapped(response.data, response.headers as ResponseHeaders, cap);
      return { status: response.status, retryAfter: response.headers['retry-after'] as string | undefined, body: answer };
    });
  }

  private async send(
    handler: HandlerEntity,
    body: string,
    webhookId: string,
    timeoutMs: number,
    stop: AbortSignal | undefined,
    transport: (target: { origin: string; path: string; href: string }, headers: Record<string, string>, abort: CallAbort, cap: number) => Promise<Answer>,
  ): Promise<CallResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const failure = (error: string): CallResult => ({
      ok: false,
      responseCode: null,
      responseBody: null,
      error,
      durationMs: elapsed(),
      retryAfterMs: null,
      gone: false,
    });

    const target = this.target(handler);
    if ('invalid' in target) return failure(target.invalid);
    if (target.refused) return failure(target.refused);

    const now = Date.now();
    const secrets = HttpExecutor.signingSecrets(handler, now);
    const signed = secrets.length > 0 ? signatureHeaders(secrets, webhookId, Math.floor(now / 1000), body) : { 'webhook-id': webhookId };
    const headers: Record<string, string> = {
      ...lowerCased(handler.headers),
      ...signed,
      accept: 'application/json, text/plain, */*',
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    };
    const abort = new CallAbort();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const stopping = stop ? this.stoppable(stop) : undefined;
    stopping?.add(abort);
    try {
      const answer = await transport(target, headers, abort, this.config.dispatch.responseBodyCapBytes);
      const responseBody = answer.body;
      const status = answer.status;
      const ok = status >= 200 && status < 300;
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(answer.retryAfter, Date.now()) : null;
      let error: string | null = null;
      if (!ok) {
        error = status >= 300 && status < 400 ? `redirect (${status}) not followed` : `receiver answered ${status}`;
      }
      return { ok, responseCode: status, responseBody, error, durationMs: elapsed(), retryAfterMs, gone: status === 410 };
    } catch (error) {
      if (stop?.aborted) return failure('abandoned: the instance is shutting down');
      if (abort.aborted) return failure(`timeout after ${timeoutMs} ms`);
      return failure(describeError(error));
    } finally {
      clearTimeout(timer);
      stopping?.delete(abort);
    }
  }

  /** The calls running under `stop`; one listener per stop signal aborts them all. */
  private stoppable(stop: AbortSignal): Set<CallAbort> {
    let calls = this.running.get(stop);
    if (!calls) {
      const set = new Set<CallAbort>();
      calls = set;
      this.running.set(stop, set);
      stop.addEventListener('abort', () => set.forEach((call) => call.abort()), { once: true });
    }
    if (stop.aborted) queueMicrotask(() => calls.forEach((call) => call.abort()));
    return calls;
  }

  /** The parsed task, and whether its literal address is refused by the outbound policy. */
  private target(handler: HandlerEntity): Target {
    const key = `${handler.type} ${handler.task}`;
    let target = this.targets.get(key);
    if (!target) {
      try {
        const url = parseHttpTask(handler.type as 'http' | 'https', handler.task);
        const literal = url.hostname.replace(/^\[|\]$/g, '');
        const refusal = isIP(literal) !== 0 ? this.policy.refusal(literal) : null;
        const refused = refusal === null ? null : `${literal} may not be called: ${refusal}`;
        target = { origin: url.origin, path: url.pathname + url.search, href: url.toString(), refused };
      } catch (error) {
        target = { invalid: (error as Error).message };
      }
      if (this.targets.size >= 10_000) this.targets.clear();
      this.targets.set(key, target);
    }
    return target;
  }
}

/**
 * Ends one call: its timeout or the instance's shutdown. Passed to undici as the request's
 * signal (undici takes any emitter of 'abort' with `aborted` and `reason`); lighter than an
 * AbortController, which queued calls would otherwise create by the thousand per second.
 */
class CallAbort {
  aborted = false;
  reason: Error | undefined = undefined;
  private listeners: (() => void)[] = [];

  on(_event: 'abort', listener: () => void): this {
    this.listeners.push(listener);
    return this;
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    this.listeners = this.listeners.filter((entry) => entry !== listener);
    return this;
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new Error('The call was aborted');
    this.reason.name = 'AbortError';
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

/**
 * POSTs through undici's dispatch interface: the answer's bytes are collected as they come,
 * up to `cap`; past the cap the call ends there and the connection is dropped (the rest is
 * never read). Informational (1xx) answers are skipped.
 */
function post(pool: Dispatcher, target: { origin: string; path: string }, headers: Record<string, string>, body: string, abort: CallAbort, cap: number): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let status = 0;
    let retryAfter: string | undefined;
    let size = 0;
    const chunks: Buffer[] = [];
    let stop: ((reason?: Error) => void) | null = null;
    let settled = false;
    const onAbort = () => stop?.(abort.reason);
    abort.on('abort', onAbort);
    const settle = (error: unknown, answer?: Answer) => {
      if (settled) return;
      settled = true;
      abort.removeListener('abort', onAbort);
      if (error) reject(error);
      else resolve(answer!);
    };
    const finish = () => settle(null, { status, retryAfter, body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') });
    const capped = () => {
      finish();
      stop?.(new Error('answer past RESPONSE_BODY_CAP_BYTES dropped'));
    };
    pool.dispatch(
      { origin: target.origin, path: target.path, method: 'POST', headers, body },
      {
        onConnect(abortCall: (reason?: Error) => void) {
          stop = abortCall;
          if (abort.aborted) abortCall(abort.reason);
        },
        onHeaders(statusCode: number, rawHeaders: Buffer[]) {
          if (statusCode < 200) return true;
          status = statusCode;
          if (statusCode === 429 || statusCode === 503) {
            for (let i = 0; i < rawHeaders.length; i += 2) {
              if (rawHeaders[i]!.toString('latin1').toLowerCase() === 'retry-after') retryAfter = rawHeaders[i + 1]!.toString('latin1');
            }
          }
          if (cap === 0) capped();
          return true;
        },
        onData(chunk: Buffer) {
          if (settled) return false;
          if (size < cap) chunks.push(chunk.length <= cap - size ? chunk : chunk.subarray(0, cap - size));
          size += chunk.length;
          if (size > cap) capped();
          return true;
        },
        onComplete: finish,
        onError: (error: Error) => settle(error),
        onUpgrade() {},
      } as unknown as Dispatcher.DispatchHandler,
    );
  });
}

function lowerCased(headers: Record<string, string> | null | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers) for (const name of Object.keys(headers)) result[name.toLowerCase()] = headers[name]!;
  return result;
}

/** Reads at most `cap` bytes of the body, then stops reading and drops the rest. */
async function readCapped(stream: Readable, headers: ResponseHeaders, cap: number): Promise<string> {
  const length = Number(headers['content-length']);
  // The whole answer fits (HTTP/1.1 frames it by its length): read it in one go.
  if (cap > 0 && length <= cap && typeof (stream as { text?: unknown }).text === 'function') {
    return (stream as unknown as { text(): Promise<string> }).text();
  }
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
