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

/** Also refused in strict mode, unless OUTBOUND_ALLOW_NETWORKS names them: the operator's own networks. */
export const STRICT_DENIED_NETWORKS = Object.freeze([
  '127.0.0.0/8', // loopback
  '10.0.0.0/8', // RFC 1918
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10', // carrier-grade NAT
  '198.18.0.0/15', // benchmarking
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
  '::1/128', // IPv6 loopback
  '::/128', // unspecified
  'fc00::/7', // unique local
  'ff00::/8', // multicast
]);

/**
 * open: anything not denied. strict: also refuses loopback and private networks, except those
 * in the allow list. allowlist: only the allow list. The deny list wins in every mode.
 */
export type OutboundMode = 'open' | 'strict' | 'allowlist';

export interface NetworkPolicyOptions {
  readonly mode: OutboundMode;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

/** Decides whether an outbound target address may be called, and says why not. */
export class NetworkPolicy {
  private readonly mode: OutboundMode;
  private readonly allow: BlockList;
  private readonly deny: BlockList;
  private readonly strictDeny = toBlockList(STRICT_DENIED_NETWORKS);

  constructor(options: NetworkPolicyOptions) {
    this.mode = options.mode;
    this.allow = toBlockList(options.allow);
    this.deny = toBlockList(options.deny);
  }

  isAllowed(address: string): boolean {
    return this.refusal(address) === null;
  }

  /** Null when the address may be called, else the reason it may not. */
  refusal(address: string): string | null {
    const ip = unmapped(address);
    const family = isIP(ip);
    if (family === 0) return 'not an IP address';
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.deny.check(ip, type)) return 'a denied network (OUTBOUND_DENY_NETWORKS)';
    const allowed = this.allow.check(ip, type);
    if (this.mode === 'allowlist' && !allowed) return 'outside the allowed networks (OUTBOUND_ALLOW_NETWORKS)';
    if (this.mode === 'strict' && !allowed && this.strictDeny.check(ip, type)) {
      return 'a loopback or private network, refused in strict mode (OUTBOUND_MODE=strict)';
    }
    return null;
  }
}
