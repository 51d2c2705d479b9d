import type { TestDatabase } from './databases.js';
import { createServer, connect, Server, Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (MariaDB in the outage and stall tests).
 * Kinder to other tests than stopping or freezing the server itself.
 *
 * - `cut()` closes every connection and refuses new ones, as a dead network would; `restore()`
 *   listens again on the same port.
 * - `stall()` keeps every connection open, and accepts new ones, but forwards nothing in either
 *   direction, as a frozen server (SIGSTOP) or a black-holed network would: nothing is refused,
 *   nothing answers. What was sent meanwhile waits in the sockets' buffers; `resume()` forwards
 *   it and everything after, so the server then sees the stalled statements late, as it would
 *   after SIGCONT.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pair = { client, upstream };
      this.pairs.add(pair);
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('error', close);
        socket.on('close', () => {
          this.pairs.delete(pair);
          // Forwarding: the other side ends after writing what it still holds (a destroyed
          // socket emits no 'end' for the pipe to pass on). Stalled: nothing more will be
          // forwarded, so it is closed at once.
          if (this.stalled) close();
          else (socket === client ? upstream : client).end();
        });
      }
      if (this.stalled) this.hold(pair);
      else this.forward(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await closed;
  }

  async restore(): Promise<void> {
    await this.start();
  }

  /** Stops forwarding, in both directions, on every connection, present and future. */
  stall(): void {
    if (this.stalled) return;
    this.stalled = true;
    for (const pair of this.pairs) this.hold(pair);
  }

  /** Forwards again, starting with whatever was held back. */
  resume(): void {
    if (!this.stalled) return;
    this.stalled = false;
    for (const pair of this.pairs) this.forward(pair);
  }

  /** Connections open now (each a client and its upstream). */
  get connections(): number {
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    this.resume();
    await this.cut();
  }

  private forward({ client, upstream }: Pair): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private hold({ client, upstream }: Pair): void {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  }
}

/** A proxy in front of the server of `db` (MySQL/MariaDB), and the DATABASE_URL that goes through it. */
export async function proxyInFront(db: TestDatabase): Promise<{ proxy: TcpProxy; url: string }> {
  const url = new URL(db.url);
  const proxy = await new TcpProxy(url.hostname, Number(url.port || 3306)).start();
  url.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: url.toString() };
}
