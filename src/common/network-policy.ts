import { BlockList, isIP } from 'node:net';

/** Parses "10.0.0.0/8, 192.168.1.5, fd00::/8" into normalised CIDR strings; throws on a bad entry. */
export function parseNetworkList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => {
      const [address, prefixText, extra] = entry.split('/');
      const family = isIP(address ?? '');
      const maxPrefix = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
      if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
        throw new Error(`"${entry}" is not an IP address or CIDR network`);
      }
      return `${address}/${prefix}`;
    });
}

function toBlockList(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const network of networks) {
    const [address, prefix] = network.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** IPv4-mapped IPv6 (::ffff:169.254.169.254) is judged as the IPv4 address it carries. */
function unmapped(ip: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return match ? match[1]! : ip;
}

/**
 * Decides whether an outbound target address may be called.
 * A denied network always wins; when an allow list is set, only its networks are reachable.
 */
export class NetworkPolicy {
  private readonly allow: BlockList | null;
  private readonly deny: BlockList;

  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.length > 0 ? toBlockList(allow) : null;
    this.deny = toBlockList(deny);
  }

  isAllowed(address: string): boolean {
    const ip = unmapped(address);
    const family = isIP(ip);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.deny.check(ip, type)) return false;
    return this.allow === null || this.allow.check(ip, type);
  }
}
