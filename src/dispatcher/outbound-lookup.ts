import { lookup as dnsLookup, LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { NetworkPolicy } from '../common/network-policy.js';

export class ForbiddenTargetError extends Error {
  readonly code = 'TARGET_FORBIDDEN';
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a network handlers may not call`);
  }
}

/**
 * A DNS lookup that refuses addresses outside the outbound policy, so the check happens at
 * connect time on the address actually dialled (a name cannot be re-pointed after saving).
 */
export function policyLookup(policy: NetworkPolicy): LookupFunction {
  return ((hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error);
      const denied = addresses.find((entry) => !policy.isAllowed(entry.address));
      if (denied) return callback(new ForbiddenTargetError(hostname, denied.address));
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}
