import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { NetworkPolicy } from '../../src/common/network-policy.js';
import type { CallResult } from '../../src/calls/call-result.js';
import { CallThread, type CallThreadOptions } from '../../src/calls/call-thread.js';
import { policyLookup } from '../../src/calls/outbound-lookup.js';
import { UndiciTransport } from '../../src/calls/undici-transport.js';
import type { WebhookRequest } from '../../src/calls/webhook-request.js';
import { TestReceiver } from '../utils/receiver.js';

const CAP = 64;

/** The same options for the thread and for the transport on this thread it is checked against. */
function options(mode: 'open' | 'strict'): CallThreadOptions {
  return { outbound: { mode, allow: [], deny: [], dnsServers: [] }, connections: 16, capBytes: CAP };
}

function request(origin: string, path: string, body = '{"n":1}'): WebhookRequest {
  return { origin, path, headers: { 'content-type': 'application/json', 'x-call': path }, body };
}

/** A result without its duration, which differs from call to call. */
const shape = ({ durationMs, ...rest }: CallResult) => {
  assert.ok(durationMs >= 0 && Number.isFinite(durationMs), `a duration (${durationMs})`);
  return rest;
};

describe('CallThread (calls from a worker thread)', () => {
  const receiver = new TestReceiver((request) => {
    if (request.path === '/busy') return { status: 429, headers: { 'retry-after': '7' }, body: '{"busy":true}' };
    if (request.path === '/gone') return { status: 410, body: '' };
    if (request.path === '/long') return { status: 200, body: 'x'.repeat(CAP * 4) };
    if (request.path === '/hang') return { hang: true };
    if (request.path === '/slow') return { status: 200, delayMs: 300, body: '{"slow":true}' };
    return { status: 200, body: JSON.stringify({ echo: request.path }) };
  });
  let refusing: Server;
  let refusedPort = 0;
  const threads: CallThread[] = [];
  const transports: UndiciTransport[] = [];
  const pair = (mode: 'open' | 'strict') => {
    const thread = new CallThread(options(mode));
    const transport = new UndiciTransport(policyLookup(new NetworkPolicy(options(mode).outbound)), 16, CAP);
    threads.push(thread);
    transports.push(transport);
    return { thread, transport };
  };

  before(async () => {
    await receiver.start();
    // A port nothing listens on: open a server, note its port, close it.
    refusing = createServer();
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    refusedPort = (refusing.address() as AddressInfo).port;
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
  });
  after(async () => {
    for (const thread of threads) await thread.close();
    for (const transport of transports) await transport.close();
    await receiver.stop();
  });

  it('answers every kind of call as the transport on the service thread does', async () => {
    const { thread, transport } = pair('open');
    const origin = `http://127.0.0.1:${receiver.port}`;
    const cases: [string, WebhookRequest, number][] = [
      ['a 200 with its body', request(origin, '/ok'), 2000],
      ['a 429 with Retry-After', request(origin, '/busy'), 2000],
      ['a 410', request(origin, '/gone'), 2000],
      ['an answer past the cap, cut there', request(origin, '/long'), 2000],
      ['a receiver that never answers, cut at the timeout', request(origin, '/hang'), 200],
      ['a refused connection', request(`http://127.0.0.1:${refusedPort}`, '/x'), 2000],
      ['a name that does not resolve', request('http://no-such-host.invalid', '/x'), 2000],
    ];
    for (const [name, call, timeoutMs] of cases) {
      const [fromThread, here] = await Promise.all([thread.send(call, timeoutMs, undefined, performance.now()), transport.send(call, timeoutMs, undefined, performance.now())]);
      assert.deepEqual(shape(fromThread), shape(here), name);
    }
  });

  it('refuses what the outbound policy refuses, at the address dialled (strict: no loopback by name)', async () => {
    const { thread, transport } = pair('strict');
    const call = request(`http://localhost:${receiver.port}`, '/ok');
    const [fromThread, here] = await Promise.all([thread.send(call, 2000, undefined, performance.now()), transport.send(call, 2000, undefined, performance.now())]);
    assert.equal(fromThread.errorKind, 'policy_refused');
    assert.deepEqual(shape(fromThread), shape(here));
  });

  it('counts the time spent before the call against its timeout, and in its duration', async () => {
    const { thread } = pair('open');
    const origin = `http://127.0.0.1:${receiver.port}`;
    // 300 ms of the 500 ms timeout already spent: the 300 ms answer comes too late.
    const late = await thread.send(request(origin, '/slow'), 500, undefined, performance.now() - 300);
    assert.equal(late.timedOut, true);
    assert.ok(late.durationMs >= 490, `the duration counts from the start (${late.durationMs})`);
    const inTime = await thread.send(request(origin, '/slow'), 2000, undefined, performance.now() - 100);
    assert.equal(inTime.responseCode, 200);
    assert.ok(inTime.durationMs >= 390, `the duration counts from the start (${inTime.durationMs})`);
  });

  it('answers each of many concurrent calls with its own result', async () => {
    const { thread } = pair('open');
    const origin = `http://127.0.0.1:${receiver.port}`;
    const paths = Array.from({ length: 400 }, (_, i) => `/call-${i}`);
    const results = await Promise.all(paths.map((path) => thread.send(request(origin, path), 5000, undefined, performance.now())));
    assert.deepEqual(
      results.map((result) => result.responseBody),
      paths.map((path) => JSON.stringify({ echo: path })),
    );
  });

  it('ends the calls under a stop signal as abandoned when it aborts, and takes none after', async () => {
    const { thread } = pair('open');
    const origin = `http://127.0.0.1:${receiver.port}`;
    const stop = new AbortController();
    const calls = [1, 2, 3].map(() => thread.send(request(origin, '/hang'), 10_000, stop.signal, performance.now()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop.abort();
    const results = await Promise.all(calls);
    assert.deepEqual(results.map((result) => [result.ok, result.errorKind, result.timedOut]), Array(3).fill([false, 'abandoned', false]));
    const afterStop = await thread.send(request(origin, '/ok'), 2000, stop.signal, performance.now());
    assert.equal(afterStop.errorKind, 'abandoned');
    const other = await thread.send(request(origin, '/ok'), 2000, new AbortController().signal, performance.now());
    assert.equal(other.responseCode, 200, 'another stop signal is not affected');
  });

  it('fails the calls in flight as network failures when the thread dies, then starts a new one', async () => {
    const { thread } = pair('open');
    const origin = `http://127.0.0.1:${receiver.port}`;
    const hanging = [1, 2].map(() => thread.send(request(origin, '/hang'), 10_000, undefined, performance.now()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const failed = await Promise.all(hanging);
    assert.deepEqual(failed.map((result) => [result.ok, result.errorKind, result.responseCode]), Array(2).fill([false, 'other', null]));
    assert.match(failed[0]!.error ?? '', /call thread ended/);
    const next = await thread.send(request(origin, '/ok'), 2000, undefined, performance.now());
    assert.equal(next.responseCode, 200);
  });

  it('after close, answers new calls as abandoned without starting a thread', async () => {
    const { thread } = pair('open');
    await thread.close();
    const result = await thread.send(request(`http://127.0.0.1:${receiver.port}`, '/ok'), 2000, undefined, performance.now());
    assert.equal(result.errorKind, 'abandoned');
    assert.equal((thread as unknown as { worker: unknown }).worker, null);
  });
});
