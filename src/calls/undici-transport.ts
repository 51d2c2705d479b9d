import { Agent, Dispatcher } from 'undici';
import type { LookupFunction } from 'node:net';
import { abandonedCall, answeredCall, CallResult, networkFailure, timedOutCall } from './call-result.js';
import type { WebhookRequest } from './webhook-request.js';

/** What the receiver sent back: the status, its Retry-After header (429/503 only), the body up to the cap. */
interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/**
 * Sends webhook requests over an undici keep-alive pool whose DNS lookups go through the
 * outbound policy (outbound-lookup.ts): no redirect followed, the whole call bounded by its
 * timeout, the answer read only up to the cap, every call under way ended when the instance
 * stops. It drives undici's dispatch interface directly (no stream, no promise per stage):
 * at thousands of calls a second a request pipeline such as axios' costs several times the
 * CPU of the call itself (BENCHMARKS.md).
 */
export class UndiciTransport {
  private readonly pool: Agent;
  private readonly running = new WeakMap<AbortSignal, Set<CallAbort>>();

  constructor(
    private readonly lookup: LookupFunction,
    private readonly connections: number,
    private readonly capBytes: number,
  ) {
    this.pool = new Agent({ connections, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000, connect: { lookup } });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }

  /**
   * A keep-alive pool of its own for a handler with a TLS client certificate (mTLS): the same
   * policy lookup and limits as the shared pool, the handler's certificate and key, and its CA
   * (instead of the system's) when it has one. Its owner (src/calls/target-auth.ts) closes it.
   */
  clientCertificateAgent(tls: { cert: string; key: string; ca: string | null }): Agent {
    const connect = tls.ca === null ? { lookup: this.lookup, cert: tls.cert, key: tls.key } : { lookup: this.lookup, cert: tls.cert, key: tls.key, ca: tls.ca };
    return new Agent({ connections: this.connections, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 60_000, connect });
  }

  /**
   * POSTs `request` and answers the call's result. It ends `timeoutMs` after `started`
   * (performance.now() when the call began, so building the request and fetching a token
   * count too), or when `stop` aborts (the instance shuts down). `via`: a handler's own mTLS
   * agent instead of the shared pool; `capBytes`: how much of the answer to keep.
   */
  async send(
    request: WebhookRequest,
    timeoutMs: number,
    stop: AbortSignal | undefined,
    started: number,
    via: Dispatcher = this.pool,
    capBytes = this.capBytes,
  ): Promise<CallResult> {
    const abort = new CallAbort();
    const timer = setTimeout(() => abort.abort(), timeoutMs - (performance.now() - started));
    const stopping = stop ? this.stoppable(stop) : undefined;
    stopping?.add(abort);
    try {
      // The shared pool, or the handler's own agent when it has a TLS client certificate.
      const answer = await post(via, request, abort, capBytes);
      return answeredCall(answer.status, answer.body, answer.retryAfter, performance.now() - started);
    } catch (error) {
      const durationMs = performance.now() - started;
      if (stop?.aborted) return abandonedCall(durationMs);
      if (abort.aborted) return timedOutCall(timeoutMs, durationMs);
      return networkFailure(error, durationMs);
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
function post(pool: Dispatcher, request: WebhookRequest, abort: CallAbort, cap: number): Promise<Answer> {
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
      { origin: request.origin, path: request.path, method: 'POST', headers: request.headers, body: request.body },
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
