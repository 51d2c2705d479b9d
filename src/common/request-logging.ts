import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoBaseLogger } from 'pino';
import { PinoLogger } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage.js';
import type { AppConfig } from '../config/app-config.js';

/** The logger bound to a request's id, kept with the request for its access line. */
const REQUEST_LOGGER = Symbol('requestLogger');
type LoggedRequest = FastifyRequest & { [REQUEST_LOGGER]?: PinoBaseLogger };

/**
 * Each request's log lines carry its id (`request_id`, Fastify's id: src/common/request-id.ts),
 * and each request ends with an access line at `debug` (`warn` for a 5xx: `request failed`).
 *
 * Two Fastify hooks do what nestjs-pino's middleware with pino-http did, for less: that path
 * ran every request through @fastify/middie (Nest's middleware on Fastify), built two child
 * loggers and put three listeners on the response, even when no access line was written: at the
 * default LOG_LEVEL single-event ingest ran at 0.64–0.73 of the same service with
 * LOG_LEVEL=silent, and at 0.83–0.87 with these hooks (BENCHMARKS.md). Here a request costs one
 * child logger and the AsyncLocalStorage scope nestjs-pino's Logger reads (its `storage`), and
 * the access line is built only when it is written. LOG_LEVEL=silent registers nothing.
 */
export function registerRequestLogging(http: FastifyInstance, config: AppConfig['log']): void {
  if (config.level === 'silent') return;
  const everyRequest = config.level === 'debug' || config.level === 'verbose';
  http.addHook('onRequest', (request: LoggedRequest, _reply, done) => {
    const logger = PinoLogger.root.child({ request_id: request.id });
    request[REQUEST_LOGGER] = logger;
    // Everything the request sets off from here on runs within this scope.
    storage.run(new Store(logger), done);
  });
  http.addHook('onResponse', (request: LoggedRequest, reply, done) => {
    const failed = reply.statusCode >= 500;
    if (failed || everyRequest) {
      const logger = request[REQUEST_LOGGER] ?? PinoLogger.root;
      const line = accessLine(request, reply);
      if (failed) logger.warn(line, 'request failed');
      else logger.debug(line, 'request');
    }
    done();
  });
}

/**
 * The access line of a request: which route, how it ended, how long it took. Never the headers
 * or the body; the request id comes from the request's logger.
 */
function accessLine(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  return { context: 'HTTP', method: request.method, path: request.url.split('?')[0], status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) };
}
