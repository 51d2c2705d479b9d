import { createSocket, Socket } from 'node:dgram';
import { isIP } from 'node:net';

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers A and AAAA queries
 * from a table the test can change at any time (to re-point a name, as a rebinding attacker
 * would). Unknown names get NXDOMAIN. Enough of RFC 1035 for Node's resolver, nothing more.
 */
export class TestDnsServer {
  readonly records = new Map<string, string[]>();
  readonly queries: { name: string; type: 'A' | 'AAAA' | 'other' }[] = [];
  private socket: Socket | null = null;

  set(name: string, ...addresses: string[]): void {
    this.records.set(name.toLowerCase(), addresses);
  }

  async start(): Promise<this> {
    this.socket = createSocket('udp4');
    this.socket.on('message', (message, remote) => {
      const answer = this.answer(message);
      if (answer) this.socket!.send(answer, remote.port, remote.address);
    });
    await new Promise<void>((resolve) => this.socket!.bind(0, '127.0.0.1', resolve));
    return this;
  }

  /** For OUTBOUND_DNS_SERVERS. */
  get address(): string {
    return `127.0.0.1:${this.socket!.address().port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }

  private answer(message: Buffer): Buffer | null {
    if (message.length < 12 || message.readUInt16BE(4) !== 1) return null;
    const labels: string[] = [];
    let offset = 12;
    while (offset < message.length && message[offset] !== 0) {
      const length = message[offset]!;
      labels.push(message.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    offset += 1;
    const qtype = message.readUInt16BE(offset);
    const question = message.subarray(12, offset + 4);
    const name = labels.join('.').toLowerCase();
    const type = qtype === 1 ? 'A' : qtype === 28 ? 'AAAA' : 'other';
    this.queries.push({ name, type });
    const known = this.records.get(name);
    const family = type === 'A' ? 4 : type === 'AAAA' ? 6 : 0;
    const addresses = (known ?? []).filter((address) => isIP(address) === family);
    const header = Buffer.alloc(12);
    header.writeUInt16BE(message.readUInt16BE(0), 0); // id
    header.writeUInt16BE(known ? 0x8580 : 0x8583, 2); // response, authoritative, RD+RA; NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addresses.length, 6);
    const records = addresses.map((address) => {
      const rdata = family === 4 ? Buffer.from(address.split('.').map(Number)) : ipv6Bytes(address);
      const record = Buffer.alloc(12);
      record.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      record.writeUInt16BE(qtype, 2);
      record.writeUInt16BE(1, 4); // IN
      record.writeUInt32BE(0, 6); // TTL 0: never cached
      record.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([record, rdata]);
    });
    return Buffer.concat([header, question, ...records]);
  }
}

function ipv6Bytes(address: string): Buffer {
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parts = (text: string | undefined) => (text ? text.split(':').map((group) => parseInt(group, 16)) : []);
  const left = parts(head);
  const right = parts(tail);
  const groups = tail === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}
