import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleLogger, Logger } from '@nestjs/common';
// nestjs-pino keeps one logger for lines written outside a request per process; its own test hook resets it.
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger.js';
import { AppLogger, createAppLogger, REDACTED } from '../../src/common/app-logger.js';
import type { LogLevelName } from '../../src/config/app-config.js';

/** A logger writing into an array of lines, as main.ts's would write to stdout. */
function capture(level: LogLevelName, format: 'json' | 'text' = 'json'): { logger: AppLogger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createAppLogger({ level, format }, { write: (line: string) => void lines.push(line) });
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('AppLogger (nestjs-pino)', () => {
  beforeEach(() => __resetOutOfContextForTests());

  it('writes one JSON object per line with the field names of Nest’s JSON logger, and structured params as fields', () => {
    const { logger, entries } = capture('log');
    const outcome = { delivery_id: 7, event_id: 3, outcome: 'succeeded', response_code: 200 };
    // As Nest's Logger('Dispatch') calls it: (message, ...params, context).
    logger.log('delivery succeeded', outcome, 'Dispatch');
    logger.warn('delivery failed', { delivery_id: 8 }, 'Dispatch');
    logger.error('no params', undefined, 'Errors');
    const [ok, failed, error] = entries();
    assert.deepEqual(
      { level: ok!.level, message: ok!.message, context: ok!.context, ...outcome },
      { level: 'log', message: 'delivery succeeded', context: 'Dispatch', ...outcome },
    );
    assert.equal(typeof ok!.timestamp, 'number');
    assert.equal(ok!.pid, process.pid);
    for (const [key, value] of Object.entries(outcome)) assert.equal(ok![key], value, key);
    assert.equal(failed!.level, 'warn');
    assert.equal(failed!.delivery_id, 8);
    assert.equal(error!.level, 'error');
    assert.equal(error!.message, 'no params');
  });

  it('writes Nest’s module and route lines at debug, and nothing below LOG_LEVEL', () => {
    const atLog = capture('log');
    atLog.logger.log('Mapped {/api/v1/handlers, POST} route', 'RouterExplorer');
    atLog.logger.log('AppModule dependencies initialized', 'InstanceLoader');
    atLog.logger.debug('a debug line', 'Main');
    atLog.logger.log('kept', 'Main');
    assert.deepEqual(atLog.entries().map((entry) => entry.message), ['kept']);

    __resetOutOfContextForTests();
    const atDebug = capture('debug');
    atDebug.logger.log('Mapped {/api/v1/handlers, POST} route', 'RouterExplorer');
    assert.deepEqual(atDebug.entries().map((entry) => [entry.level, entry.context]), [['debug', 'RouterExplorer']]);

    __resetOutOfContextForTests();
    const silent = capture('silent');
    silent.logger.error('never written', 'Main');
    assert.deepEqual(silent.lines, []);
  });

  it('masks secret fields at the top level, nested at any depth, in any case, and inside errors', () => {
    const { logger, lines } = capture('verbose');
    const secret = 'sk_live_5f3c8e1d2a9b4c7e';
    const fields = {
      authorization: `Bearer ${secret}`,
      Authorization: secret,
      signing_secret: secret,
      handler: { name: 'crm', headers: { 'X-Api-Key': secret }, nested: { deeper: [{ PASSWORD: secret, kept: 'visible' }] } },
      key: secret,
    };
    logger.log('a line with secrets passed by mistake', fields, 'Test');
    const error = Object.assign(new Error('call failed'), { config: { headers: { Authorization: `Bearer ${secret}` } } });
    logger.error(error, 'Test');
    logger.log({ apiKey: secret, previousSecret: secret, name: 'message object' }, 'Test');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.ok(!line.includes(secret), line);
    const [first, second, third] = lines.map((line) => JSON.parse(line));
    assert.equal(first.authorization, REDACTED);
    assert.equal(first.handler.headers, REDACTED);
    assert.equal(first.handler.nested.deeper[0].PASSWORD, REDACTED);
    assert.equal(first.handler.nested.deeper[0].kept, 'visible');
    assert.equal(first.handler.name, 'crm');
    assert.equal(second.err.message, 'call failed');
    assert.equal(second.err.config.headers, REDACTED);
    assert.equal(third.name, 'message object');
    assert.equal(third.apiKey, REDACTED);
    // The caller's objects are not changed.
    assert.equal(fields.handler.headers['X-Api-Key'], secret);
    assert.equal(fields.authorization, `Bearer ${secret}`);
  });

  it('writes text for a terminal when LOG_FORMAT=text: context in brackets, then the message and its fields', () => {
    const { logger, lines } = capture('log', 'text');
    logger.log('Console: http://127.0.0.1:3000/console', 'Main');
    logger.warn('delivery failed', { delivery_id: 9, password: 'hunter2-hunter2' }, 'Dispatch');
    assert.match(lines[0]!, /^\[Provisioning\] \d+ {2}- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} {5}LOG \[Main\] Console: http:\/\/127\.0\.0\.1:3000\/console\n$/);
    assert.match(lines[1]!, / WARN \[Dispatch\] delivery failed \{"delivery_id":9,"password":"\[REDACTED\]"\}\n$/);
  });

  it('is the logger behind Nest’s Logger once the application uses it', () => {
    const { logger, entries } = capture('log');
    Logger.overrideLogger(logger);
    try {
      new Logger('Dispatch').log('delivery retry', { delivery_id: 11, outcome: 'retry' });
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    assert.deepEqual(
      entries().map(({ context, message, delivery_id, outcome }) => ({ context, message, delivery_id, outcome })),
      [{ context: 'Dispatch', message: 'delivery retry', delivery_id: 11, outcome: 'retry' }],
    );
  });
});
