import { Worker } from 'node:worker_threads';
import type { NetworkPolicyOptions } from '../common/network-policy.js';
import { abandonedCall, CallResult, networkFailure } from './call-result.js';
import type { WebhookRequest } from './webhook-request.js';

/** What the call thread needs to build its transport: plain data, copied into the thread. */
export interface CallThreadOptions {
  readonly outbound: NetworkPolicyOptions & { readonly dnsServers: readonly string[] };
  readonly connections: number;
  readonly capBytes: number;
}

/** Values per call in a batch sent to the thread: id, origin, path, headers, body, timeout, time already spent, cap, stop group. */
export const CALL_FIELDS = 9;

interface Pending {
  resolve: (result: CallResult) => void;
  started: number;
}

/**
 * Sends webhook calls from a worker thread of their own (DISPATCH_CALL_THREAD; by default with SQLite):
 * the HTTP client's work (the request's bytes, the socket, the answer's parsing) leaves the
 * service's thread, which runs the queue's statements and the dispatcher's bookkeeping. The
 * thread runs the same UndiciTransport with the same outbound policy (call-thread.worker.ts);
 * requests are built and signed here, so keys never cross into it.
 *
 * Requests leave in one message per turn of the event loop and results come back the same
 * way. The thread starts on the first call and is restarted after it ends; calls in flight
 * when it ends unexpectedly count as network failures, and are retried like any other (the
 * receiver may have had them: delivery is at least once).
 */
export class CallThread {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outbox: unknown[] = [];
  private flushing = false;
  private closing = false;
  /** A number per stop signal of the callers, which the thread keeps a controller for. */
  private readonly stopGroups = new WeakMap<AbortSignal, number>();
  private nextStopGroup = 1;

  constructor(private readonly options: CallThreadOptions) {}

  /** UndiciTransport.send's contract, over the shared pool: ends `timeoutMs` after `started` (performance.now()), or when `stop` aborts. */
  send(request: WebhookRequest, timeoutMs: number, stop: AbortSignal | undefined, started: number, capBytes = this.options.capBytes): Promise<CallResult> {
    if (stop?.aborted || this.closing) return Promise.resolve(abandonedCall(performance.now() - started));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref();
    return new Promise<CallResult>((resolve) => {
      this.pending.set(id, { resolve, started });
      this.outbox.push(id, request.origin, request.path, request.headers, request.body, timeoutMs, performance.now() - started, capBytes, stop ? this.stopGroup(stop) : 0);
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(this.flush);
      }
    });
  }

  /** Ends the thread; calls still in flight end as abandoned, as at any shutdown. */
  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
    this.settleAll(abandonedCall);
  }

  private readonly flush = () => {
    this.flushing = false;
    const batch = this.outbox;
    this.outbox = [];
    this.worker?.postMessage(batch);
  };

  private start(): Worker {
    const worker = new Worker(new URL('./call-thread.worker.js', import.meta.url), { workerData: this.options });
    worker.unref();
    worker.on('message', (results: unknown[]) => {
      for (let i = 0; i < results.length; i += 2) {
        const id = results[i] as number;
        const entry = this.pending.get(id);
        if (!entry) continue;
        this.pending.delete(id);
        entry.resolve(results[i + 1] as CallResult);
      }
      if (this.pending.size === 0) worker.unref();
    });
    const ended = (error?: Error) => {
      if (this.worker !== worker) return;
      this.worker = null;
      const cause = error ?? new Error('the call thread ended');
      this.settleAll((durationMs) => networkFailure(cause, durationMs));
    };
    worker.on('error', ended);
    worker.on('exit', () => ended());
    this.worker = worker;
    return worker;
  }

  private settleAll(result: (durationMs: number) => CallResult): void {
    const now = performance.now();
    const entries = [...this.pending.values()];
    this.pending.clear();
    this.outbox = [];
    for (const entry of entries) entry.resolve(result(now - entry.started));
  }

  /** The stop signal's number; when it aborts, the thread ends every call given that number. */
  private stopGroup(stop: AbortSignal): number {
    let group = this.stopGroups.get(stop);
    if (group === undefined) {
      const assigned = this.nextStopGroup++;
      group = assigned;
      this.stopGroups.set(stop, assigned);
      stop.addEventListener('abort', () => this.worker?.postMessage(['stop', assigned]), { once: true });
    }
    return group;
  }
}
