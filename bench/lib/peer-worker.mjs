// The peer the issue compares the service with: what a NestJS team would build instead of it.
// A Nest application context (no HTTP server) with BullModule (@nestjs/bullmq) on Redis and a
// @Processor whose process() signs each job's envelope the Standard Webhooks way and posts it:
//
//   client 'axios':  through @nestjs/axios's HttpService, `firstValueFrom(http.post(...))`,
//                    HttpModule registered with a timeout, as the Nest docs show;
//   client 'undici': the same processor posting through an undici Pool (one per origin).
//
// A non-2xx answer or an error throws, so BullMQ retries the job (the producer adds every job
// with 3 attempts and exponential backoff). Worker options are BullMQ's defaults except the
// concurrency, which is the dispatch concurrency of the benchmark.
//
// Run by peers.mjs with fork(), in a process of its own so that its CPU time is measured like the
// service's. Gets {client, queue, redis, concurrency, handlers} as its first IPC message, answers
// {type: 'ready'} once the worker runs, and on {type: 'stop'} closes the application, answers
// {type: 'stopped', processed, failed} and exits.
import 'reflect-metadata';
import { createHmac } from 'node:crypto';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HttpModule, HttpService } from '@nestjs/axios';
import { BullModule, Processor, WorkerHost } from '@nestjs/bullmq';
import { firstValueFrom } from 'rxjs';
import { Pool } from 'undici';

const TIMEOUT_MS = 15_000;
const USER_AGENT = 'ProvisioningAPI/1';

/** Standard Webhooks headers for one attempt: HMAC-SHA256 over `${id}.${timestamp}.${body}` with the secret's decoded key. */
function signatureHeaders(key, id, body) {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
    accept: 'application/json, text/plain, */*',
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
  };
}

/** Posts through @nestjs/axios. */
class AxiosSender {
  constructor(http) {
    this.http = http;
  }
  async post(url, body, headers) {
    // axios throws on a status outside 2xx.
    await firstValueFrom(this.http.post(url, body, { headers }));
  }
  close() {}
}
Injectable()(AxiosSender);
Inject(HttpService)(AxiosSender, undefined, 0);

/** Posts through an undici Pool per origin. */
class UndiciSender {
  constructor() {
    this.pools = new Map();
    this.connections = Number(process.env.PEER_CONCURRENCY ?? 128);
  }
  async post(url, body, headers) {
    const target = new URL(url);
    let pool = this.pools.get(target.origin);
    if (!pool) this.pools.set(target.origin, (pool = new Pool(target.origin, { connections: this.connections })));
    const res = await pool.request({ path: target.pathname + target.search, method: 'POST', headers, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    await res.body.text();
    if (res.statusCode < 200 || res.statusCode > 299) throw new Error(`receiver answered ${res.statusCode}`);
  }
  async onApplicationShutdown() {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }
}
Injectable()(UndiciSender);

const SENDER = 'SENDER';
const HANDLERS = 'HANDLERS';

/** The processor: looks up the job's handler, builds and signs the body, posts it. */
class DeliveryProcessor extends WorkerHost {
  constructor(sender, handlers) {
    super();
    this.sender = sender;
    this.handlers = handlers;
    this.processed = 0;
  }
  async process(job) {
    const handler = this.handlers.get(job.data.handlerId);
    if (!handler) throw new Error(`unknown handler ${job.data.handlerId}`);
    const body = JSON.stringify(job.data.envelope);
    await this.sender.post(handler.url, body, signatureHeaders(handler.key, job.data.messageId, body));
    this.processed += 1;
    return { delivered: true };
  }
}

async function start({ client, queue, redis, concurrency, handlers }) {
  process.env.PEER_CONCURRENCY = String(concurrency);
  const handlerMap = new Map(handlers.map((h) => [h.id, { url: h.url, key: Buffer.from(h.secret.slice('whsec_'.length), 'base64') }]));
  // Decorators, applied the way TypeScript's compiled output applies them.
  class Processor_ extends DeliveryProcessor {}
  Object.defineProperty(Processor_, 'name', { value: 'DeliveryProcessor' });
  Injectable()(Processor_);
  Inject(SENDER)(Processor_, undefined, 0);
  Inject(HANDLERS)(Processor_, undefined, 1);
  Processor(queue, { concurrency })(Processor_);

  class WorkerModule {}
  Module({
    imports: [
      BullModule.forRoot({ connection: redis }),
      BullModule.registerQueue({ name: queue }),
      ...(client === 'axios' ? [HttpModule.register({ timeout: TIMEOUT_MS, maxRedirects: 5 })] : []),
    ],
    providers: [
      Processor_,
      { provide: HANDLERS, useValue: handlerMap },
      client === 'axios' ? { provide: SENDER, useClass: AxiosSender } : { provide: SENDER, useClass: UndiciSender },
    ],
  })(WorkerModule);

  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error', 'warn'] });
  const processor = app.get(Processor_);
  const failures = [];
  processor.worker.on('failed', (job, error) => failures.length < 5 && failures.push(String(error?.message ?? error)));
  await processor.worker.waitUntilReady();
  return { app, processor, failures };
}

let running = null;
process.on('message', async (message) => {
  try {
    if (message.type === 'start') {
      running = await start(message);
      process.send({ type: 'ready' });
    } else if (message.type === 'stop') {
      const processed = running?.processor.processed ?? 0;
      const failures = running?.failures ?? [];
      await running?.app.close();
      process.send({ type: 'stopped', processed, failures });
      process.disconnect();
    }
  } catch (error) {
    process.send({ type: 'error', error: error.stack ?? String(error) });
    process.exitCode = 1;
    process.disconnect();
  }
});
