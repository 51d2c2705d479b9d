import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { PinoLogger } from 'nestjs-pino';
// nestjs-pino keeps one logger for lines written outside a request per process; its own test hook resets it.
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger.js';
import { pino } from 'pino';
import { registerRequestLogging } from '../../src/common/request-logging.js';
import type { LogLevelName } from '../../src/config/app-config.js';

/** pino's numeric levels in the lines (no formatter here). */
const DEBUG = 20;
const INFO = 30;
const WARN = 40;

/**
 * A bare Fastify instance with the hooks, its root logger writing into an array: a route that logs
 * through nestjs-pino's PinoLogger after its body was parsed and after an async hop, and a route
 * that answers 502.
 */
async function serve(level: LogLevelName) {
  const lines: Record<string, unknown>[] = [];
  const root = pino({ level: level === 'debug' ? 'debug' : 'info', base: undefined, timestamp: false }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  __resetOutOfContextForTests();
  // nestjs-pino sets its root logger when its module starts; the hooks read it from there.
  (PinoLogger as unknown as { root: unknown }).root = root;
  const http = new FastifyAdapter().getInstance();
  registerRequestLogging(http, { level, format: 'json' });
  const logger = new PinoLogger({ pinoHttp: { logger: root } });
  http.post('/work', async (request) => {
    await new Promise((resolve) => setImmediate(resolve));
    logger.info({ step: (request.body as { step: string }).step }, 'working');
    return { ok: true };
  });
  http.get('/fail', async (_request, reply) => reply.status(502).send({ failed: true }));
  await http.ready();
  return { http, lines, logger };
}

describe('request logging hooks (src/common/request-logging.ts)', () => {
  let close: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('binds the request id to every line written while serving it, through the body and async hops, and to no other work', async () => {
    const { http, lines, logger } = await serve('log');
    close = () => http.close();
    // Work scheduled outside any request and run while requests are served (a timer, as the
    // service's crons are): its line carries no request's id.
    const outside = new Promise<void>((resolve) =>
      setTimeout(() => {
        logger.info('outside any request');
        resolve();
      }, 5),
    );
    const first = await http.inject({ method: 'POST', url: '/work', payload: { step: 'one' } });
    const second = await http.inject({ method: 'POST', url: '/work', payload: { step: 'two' } });
    assert.deepEqual([first.statusCode, second.statusCode], [200, 200]);
    await outside;
    const working = lines.filter((line) => line.msg === 'working');
    assert.equal(working.length, 2);
    assert.equal(typeof working[0]!.request_id, 'string');
    assert.notEqual(working[0]!.request_id, working[1]!.request_id, 'each request its own id');
    assert.deepEqual(
      working.map((line) => line.step),
      ['one', 'two'],
    );
    const outsideLine = lines.find((line) => line.msg === 'outside any request');
    assert.ok(outsideLine && !('request_id' in outsideLine), 'no request id on work the requests did not start');
  });

  it('at the default level writes no access line for a success, and `request failed` at warn for a 5xx', async () => {
    const { http, lines } = await serve('log');
    close = () => http.close();
    assert.equal((await http.inject({ method: 'POST', url: '/work', payload: { step: 'one' } })).statusCode, 200);
    assert.equal((await http.inject({ method: 'GET', url: '/fail?x=1' })).statusCode, 502);
    const access = lines.filter((line) => line.context === 'HTTP');
    assert.deepEqual(
      access.map(({ level, msg, method, path, status }) => ({ level, msg, method, path, status })),
      [{ level: WARN, msg: 'request failed', method: 'GET', path: '/fail', status: 502 }],
    );
    assert.equal(typeof access[0]!.request_id, 'string');
    assert.equal(typeof access[0]!.duration_ms, 'number');
    assert.ok(lines.some((line) => line.level === INFO && line.msg === 'working'));
  });

  it('at debug writes one access line per request, with the id its other lines carry', async () => {
    const { http, lines } = await serve('debug');
    close = () => http.close();
    assert.equal((await http.inject({ method: 'POST', url: '/work', payload: { step: 'one' } })).statusCode, 200);
    const working = lines.find((line) => line.msg === 'working');
    const access = lines.filter((line) => line.context === 'HTTP');
    assert.deepEqual(
      access.map(({ level, msg, method, path, status, request_id }) => ({ level, msg, method, path, status, request_id })),
      [{ level: DEBUG, msg: 'request', method: 'POST', path: '/work', status: 200, request_id: working?.request_id }],
    );
  });

  it('at silent registers nothing', async () => {
    const { http, lines } = await serve('silent');
    close = () => http.close();
    assert.equal((await http.inject({ method: 'GET', url: '/fail' })).statusCode, 502);
    assert.equal(lines.filter((line) => line.context === 'HTTP').length, 0);
  });
});
