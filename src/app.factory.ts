import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { ConsoleLogger, LogLevel, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { AppConfig, LogLevelName } from './config/app-config.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { clientErrorHandler, frameworkErrors } from './common/client-errors.js';
import { parseJsonBody } from './common/json-body.js';
import { AppLogger } from './common/app-logger.js';
import { acquireSqliteInstanceLock } from './database/sqlite-instance-lock.js';
import { requestContext, requestIdFrom } from './common/request-context.js';
import { createValidationPipe } from './common/validation.js';
import { eventSchemaComponents } from './events/event-schemas.js';

const LEVELS: LogLevelName[] = ['error', 'warn', 'log', 'debug', 'verbose'];

export function createLogger(config: AppConfig['log']): ConsoleLogger {
  const levels = LEVELS.slice(0, LEVELS.indexOf(config.level) + 1) as LogLevel[];
  return new AppLogger(levels, config.format === 'json');
}

export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const options = new DocumentBuilder()
    .setTitle('Provisioning API')
    .setDescription(
      'Pushes billing-platform events (clients, accounts, subscriptions, DIDs, charges, payments, rate imports) ' +
        'to registered handlers in priority order. Every error answers {statusCode, code, message, details}.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>' })
    .build();
  const document = SwaggerModule.createDocument(app, options);
  document.components = { ...document.components, schemas: { ...document.components?.schemas, ...eventSchemaComponents() } };
  return document;
}

const draining = new WeakSet<NestFastifyApplication>();
const OPERATIONAL_PATHS = new Set(['/health', '/health/ready', '/metrics']);

/**
 * Graceful shutdown: new requests are answered 503 SHUTTING_DOWN at once, then the application
 * closes (the dispatcher stops claiming and lets calls in flight finish within
 * SHUTDOWN_GRACE_MS, handing back the rest), then the database connection closes.
 */
export async function shutDown(app: NestFastifyApplication): Promise<void> {
  draining.add(app);
  await app.close();
}

/** Builds the Nest application on Fastify with the global filter, validation and Swagger. */
export async function createApp(config: AppConfig, logger: ConsoleLogger | false = createLogger(config.log)): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: false,
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers['x-request-id']),
    frameworkErrors,
    clientErrorHandler,
  });
  const lock = config.database.type === 'sqlite' && config.database.path !== ':memory:' ? acquireSqliteInstanceLock(config.database.path) : null;
  let app: NestFastifyApplication;
  try {
    app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config, lock), adapter, {
      logger: logger === false ? false : logger,
      abortOnError: false,
      // The only body parser is ours, below: Nest's would also take form bodies.
      bodyParser: false,
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const http = app.getHttpAdapter().getInstance();
  // JSON is the only body type: Fastify answers any other 415 (UNSUPPORTED_MEDIA_TYPE).
  http.removeAllContentTypeParsers();
  const maxJsonDepth = config.http.maxJsonDepth;
  http.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.http.bodyLimitBytes }, (_request, body, done) => {
    let value: unknown;
    try {
      value = parseJsonBody(body as string, maxJsonDepth);
    } catch (error) {
      done(error as Error, undefined);
      return;
    }
    done(null, value);
  });
  // A worker-only instance still answers probes and scrapes, nothing else.
  const workerOnly = config.dispatch.role === 'worker';
  // Every line logged while serving a request carries its id; the caller gets it back to quote.
  http.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    if (draining.has(app)) {
      // Shutting down: take nothing new; the caller (or its load balancer) retries elsewhere.
      void reply
        .status(503)
        .header('connection', 'close')
        .header('retry-after', '1')
        .send({ statusCode: 503, code: 'SHUTTING_DOWN', message: 'This instance is shutting down; retry on another instance', details: [] });
      return;
    }
    if (workerOnly && !OPERATIONAL_PATHS.has(request.url.split('?')[0]!)) {
      void reply.status(503).send({
        statusCode: 503,
        code: 'WORKER_ONLY',
        message: 'This instance runs with INSTANCE_ROLE=worker: it delivers, it does not serve the API. Send requests to an API instance.',
        details: [],
      });
      return;
    }
    requestContext.run({ requestId: request.id }, done);
  });
  const access = new Logger('HTTP');
  http.addHook('onResponse', (request, reply, done) => {
    const fields = { method: request.method, path: request.url.split('?')[0], status: reply.statusCode, duration_ms: Math.round(reply.elapsedTime) };
    if (reply.statusCode >= 500) access.warn('request failed', fields);
    else access.debug('request', fields);
    done();
  });
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  return app;
}
