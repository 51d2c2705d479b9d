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
      const prefix = prefixText === undefined ? maxPrefix : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
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

/**
 * IPv4-mapped IPv6 is judged as the IPv4 address it carries, in either spelling:
 * ::ffff:169.254.169.254 or ::ffff:a9fe:a9fe (the form URL parsing produces).
 */
function unmapped(ip: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (dotted) return dotted[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return ip;
  const high = parseInt(hex[1]!, 16);
  const low = parseInt(hex[2]!, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
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
