import { lookup as dnsLookup, LookupAddress, LookupOptions, Resolver } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { NetworkPolicy } from '../common/network-policy.js';

export class ForbiddenTargetError extends Error {
  readonly code = 'TARGET_FORBIDDEN';
  constructor(host: string, address: string, reason: string) {
    super(`${host} resolves to ${address}, which handlers may not call: ${reason}`);
  }
}

type Resolve = (hostname: string, family: number, callback: (error: Error | null, addresses: LookupAddress[]) => void) => void;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS). */
const systemResolve: Resolve = (hostname, family, callback) =>
  dnsLookup(hostname, { family, all: true }, (error, addresses) => callback(error, addresses ?? []));

/** Only the given DNS servers (OUTBOUND_DNS_SERVERS): A and AAAA records, IPv4 first. */
function serversResolve(servers: readonly string[]): Resolve {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([...servers]);
  const query = (hostname: string, rrtype: 4 | 6): Promise<LookupAddress[]> =>
    new Promise((done) => {
      const handle = (error: Error | null, addresses: string[]) =>
        done(error ? [] : addresses.map((address) => ({ address, family: rrtype })));
      if (rrtype === 4) resolver.resolve4(hostname, handle);
      else resolver.resolve6(hostname, handle);
    });
  return (hostname, family, callback) => {
    const families: (4 | 6)[] = family === 4 ? [4] : family === 6 ? [6] : [4, 6];
    Promise.all(families.map((f) => query(hostname, f))).then((lists) => {
      const addresses = lists.flat();
      if (addresses.length === 0) {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
        return callback(error, []);
      }
      callback(null, addresses);
    }, (error: Error) => callback(error, []));
  };
}

/**
 * A DNS lookup that refuses addresses outside the outbound policy, so the check happens at
 * connect time on the address actually dialled (a name cannot be re-pointed after saving).
 * Every address a name resolves to must pass, so a mixed answer cannot smuggle one through.
 */
export function policyLookup(policy: NetworkPolicy, dnsServers: readonly string[] = []): LookupFunction {
  const resolve = dnsServers.length > 0 ? serversResolve(dnsServers) : systemResolve;
  return ((hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    resolve(hostname, Number(options.family ?? 0), (error, addresses) => {
      if (error) return callback(error);
      for (const entry of addresses) {
        const reason = policy.refusal(entry.address);
        if (reason !== null) return callback(new ForbiddenTargetError(hostname, entry.address, reason));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}
