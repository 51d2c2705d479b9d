import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export interface Received {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean;
}

/** Decides the answer for the n-th request (0-based) to this receiver. */
export type Responder = (request: Received, index: number) => Reply;

/**
 * A real HTTP receiver on 127.0.0.1 for end-to-end tests: records every request and answers
 * as its responder says (by default 200 with an echo of the body).
 */
export class TestReceiver {
  readonly requests: Received[] = [];
  /** Requests whose connection is open now (answered or not), and the most there ever were at once. */
  readonly inFlight = { now: 0, peak: 0 };
  private server: Server | null = null;
  private readonly open = new Set<ServerResponse>();

  constructor(public responder: Responder = () => ({ status: 200 })) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.inFlight.now += 1;
      this.inFlight.peak = Math.max(this.inFlight.peak, this.inFlight.now);
      res.once('close', () => (this.inFlight.now -= 1));
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request: Received = {
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        const index = this.requests.length;
        this.requests.push(request);
        const reply = this.responder(request, index);
        if (reply.hang) {
          this.open.add(res);
          return;
        }
        const send = () => {
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
          res.end(reply.body ?? request.body);
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** The handler task for this receiver: `127.0.0.1:<port><path>`. */
  task(path = '/hook'): string {
    return `127.0.0.1:${this.port}${path}`;
  }

  async waitFor(count: number, timeoutMs = 10_000): Promise<Received[]> {
    const started = Date.now();
    while (this.requests.length < count) {
      if (Date.now() - started > timeoutMs) {
        throw new Error(`receiver got ${this.requests.length} of ${count} requests within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.requests;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.open.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }
}

/** Polls `probe` until it returns a value that is not undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
