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

/** The eight 16-bit groups of an IPv6 address (zone dropped, a trailing dotted quad read), or null. */
function ipv6Groups(ip: string): number[] | null {
  let text = ip.replace(/%.*$/, '').toLowerCase();
  if (isIP(text) !== 6) return null;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const part = (value: string) => (value === '' ? [] : value.split(':').map((group) => parseInt(group, 16)));
  const front = part(head);
  const back = tail === undefined ? [] : part(tail);
  const groups = tail === undefined ? front : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : null;
}

/** The 128 bits of an IPv6 address as a bigint. */
function ipv6Value(groups: number[]): bigint {
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** The IPv4 address in the 32 bits of `value` starting `offset` bits from the left of the 128. */
function ipv4At(value: bigint, offset: number): string {
  const bits = Number((value >> BigInt(96 - offset)) & 0xffffffffn);
  return [bits >>> 24, (bits >>> 16) & 255, (bits >>> 8) & 255, bits & 255].join('.');
}

/**
 * The IPv4 addresses an IPv6 address carries, which it reaches or stands for: IPv4-compatible
 * (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d, RFC 2765), NAT64 (64:ff9b::/96, RFC 6052,
 * and the local-use 64:ff9b:1::/48, RFC 8215, read as a /96), 6to4
 * (2002::/16, RFC 3056) and Teredo (2001::/32, RFC 4380: the server, and the client as the
 * bitwise NOT of the last 32 bits). IPv4-mapped addresses are unmapped before this (`unmapped`).
 */
export function embeddedIPv4(address: string): string[] {
  const groups = ipv6Groups(address);
  if (!groups) return [];
  const value = ipv6Value(groups);
  const top = (bits: number) => value >> BigInt(128 - bits);
  const found: string[] = [];
  // ::/96 without :: and ::1 (unspecified and loopback, judged as themselves).
  if (top(96) === 0n && value > 1n) found.push(ipv4At(value, 96));
  if (top(96) === 0xffff0000n) found.push(ipv4At(value, 96));
  if (top(96) === 0x0064ff9b0000000000000000n) found.push(ipv4At(value, 96));
  // The local-use prefix is read as a /96 (the layout of the well-known prefix). Shorter local
  // prefixes put the IPv4 bits elsewhere; reading every layout would refuse almost any address
  // in it (some layout always lands in 0.0.0.0/8), so deny such a prefix by name instead.
  if (top(96) >> 48n === 0x0064ff9b0001n) found.push(ipv4At(value, 96));
  if (top(16) === 0x2002n) found.push(ipv4At(value, 16));
  if (top(32) === 0x20010000n) {
    found.push(ipv4At(value, 32));
    const client = Number(value & 0xffffffffn) ^ 0xffffffff;
    found.push(ipv4At(BigInt(client >>> 0), 96));
  }
  return [...new Set(found)];
}

/**
 * IPv4-mapped IPv6 (::ffff:0:0/96) is judged as the IPv4 address it carries, in any spelling:
 * ::ffff:169.254.169.254, ::ffff:a9fe:a9fe (the form URL parsing produces), 0:0:0:0:0:ffff:….
 */
function unmapped(ip: string): string {
  const groups = ipv6Groups(ip);
  if (!groups || groups.slice(0, 6).join(':') !== '0:0:0:0:0:65535') return ip;
  return ipv4At(ipv6Value(groups), 96);
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
    const own = this.judge(ip, type, this.mode === 'allowlist');
    if (own !== null && ip !== address) return `${own}, through the IPv4 address ${ip} it maps`;
    if (own !== null || type === 'ipv4') return own;
    // An IPv6 form that carries an IPv4 address (NAT64, 6to4, Teredo, ...) is judged by that
    // address too: it is how a denied IPv4 network would otherwise be reached through IPv6.
    for (const carried of embeddedIPv4(ip)) {
      const reason = this.judge(carried, 'ipv4', false);
      if (reason !== null) return `${reason}, through the IPv4 address ${carried} it embeds`;
    }
    return null;
  }

  /** The deny list, the allow list (when `onlyAllowed`) and strict mode's networks, for one address. */
  private judge(ip: string, type: 'ipv4' | 'ipv6', onlyAllowed: boolean): string | null {
    if (this.deny.check(ip, type)) return 'a denied network (OUTBOUND_DENY_NETWORKS)';
    const allowed = this.allow.check(ip, type);
    if (onlyAllowed && !allowed) return 'outside the allowed networks (OUTBOUND_ALLOW_NETWORKS)';
    if (this.mode === 'strict' && !allowed && this.strictDeny.check(ip, type)) {
      return 'a loopback or private network, refused in strict mode (OUTBOUND_MODE=strict)';
    }
    return null;
  }
}
