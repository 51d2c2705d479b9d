import { parentPort, workerData } from 'node:worker_threads';
import { NetworkPolicy } from '../common/network-policy.js';
import type { CallResult } from './call-result.js';
import { CALL_FIELDS, type CallThreadOptions } from './call-thread.js';
import { policyLookup } from './outbound-lookup.js';
import { UndiciTransport } from './undici-transport.js';

/**
 * The call thread (call-thread.ts): the same UndiciTransport the service's thread would use,
 * with the same outbound policy, pool size and answer cap, in a thread of its own. Requests
 * come in batches of flat tuples and results go back the same way, one message per batch:
 * a message costs about what one call's bookkeeping does, so batching keeps the service's
 * thread near 1.5 µs per call (BENCHMARKS.md).
 */
const options = workerData as CallThreadOptions;
const policy = new NetworkPolicy(options.outbound);
const transport = new UndiciTransport(policyLookup(policy, options.outbound.dnsServers), options.connections, options.capBytes);
/** One controller per stop signal of the service's thread, by the number it was given there. */
const stops = new Map<number, AbortController>();
let results: unknown[] = [];
let scheduled = false;

const flush = () => {
  scheduled = false;
  const batch = results;
  results = [];
  parentPort!.postMessage(batch);
};

const answer = (id: number, result: CallResult) => {
  results.push(id, result);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};

const stopOf = (group: number): AbortSignal | undefined => {
  if (group === 0) return undefined;
  let controller = stops.get(group);
  if (!controller) {
    controller = new AbortController();
    stops.set(group, controller);
  }
  return controller.signal;
};

parentPort!.on('message', (message: unknown[]) => {
  if (message[0] === 'stop') {
    stopOf(message[1] as number);
    stops.get(message[1] as number)!.abort();
    return;
  }
  // Each call: id, origin, path, headers, body, timeout, time already spent, cap, stop group.
  for (let i = 0; i < message.length; i += CALL_FIELDS) {
    const id = message[i] as number;
    const request = { origin: message[i + 1] as string, path: message[i + 2] as string, headers: message[i + 3] as Record<string, string>, body: message[i + 4] as string };
    const started = performance.now() - (message[i + 6] as number);
    transport.send(request, message[i + 5] as number, stopOf(message[i + 8] as number), started, undefined, message[i + 7] as number).then((result) => answer(id, result));
  }
});
