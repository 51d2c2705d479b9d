import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { AppConfig } from './config/app-config.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { clientErrorHandler, frameworkErrors } from './common/client-errors.js';
import { parseJsonBody } from './common/json-body.js';
import { createAppLogger } from './common/app-logger.js';
import { registerRequestLogging } from './common/request-logging.js';
import { acquireSqliteInstanceLock } from './database/sqlite-instance-lock.js';
import { requestIdFrom } from './common/request-id.js';
import { createValidationPipe } from './common/validation.js';
import { eventSchemaComponents } from './events/event-schemas.js';

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
  declareErrorResponses(document);
  return document;
}

const ERROR_SCHEMA = { $ref: '#/components/schemas/ErrorResponseDto' };
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

/**
 * Every error the service sends has the body {statusCode, code, message, details}
 * (docs/errors.md), from any route. So each operation declares: its specific error statuses
 * with that schema; the statuses every operation of its kind can answer (400 and 404 for path
 * parameters, 400, 413 and 415 for a body, 503 for an unreachable database or a shutdown); and a
 * `default` response with the error schema, so any error it sends is declared.
 */
function declareErrorResponses(document: OpenAPIObject): void {
  const error = (description: string) => ({ description, content: { 'application/json': { schema: ERROR_SCHEMA } } });
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const responses = operation.responses;
      const parameters = (operation.parameters ?? []) as { in?: string }[];
      const add = (status: string, description: string) => {
        if (!responses[status]) responses[status] = error(description);
      };
      // Numeric `id` path parameters (idParam, src/common/validation.ts) are positive integers
      // that fit a JavaScript number; @nestjs/swagger only knows them as `number`.
      for (const parameter of parameters as { in?: string; name?: string; schema?: Record<string, unknown> }[]) {
        if (parameter.in === 'path' && parameter.name === 'id' && parameter.schema?.type === 'number') {
          parameter.schema = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
        }
      }
      if (parameters.some((p) => p.in === 'path')) {
        add('400', 'VALIDATION_FAILED (a path parameter is not valid), MALFORMED_URL');
        add('404', 'No record with this id');
      }
      if (parameters.some((p) => p.in === 'query')) add('400', 'VALIDATION_FAILED (a query parameter is unknown or not valid)');
      if (operation.requestBody) {
        add('400', 'VALIDATION_FAILED, MALFORMED_JSON, JSON_TOO_DEEP');
        add('413', 'PAYLOAD_TOO_LARGE: the body is larger than BODY_LIMIT_BYTES');
        add('415', 'UNSUPPORTED_MEDIA_TYPE: send the body as application/json');
      }
      add('503', 'DATABASE_UNAVAILABLE (with Retry-After), SHUTTING_DOWN, WORKER_ONLY');
      // Declared errors without a body schema get the error schema; a status that answers
      // another body as well (readiness: 503) accepts either.
      for (const [status, response] of Object.entries(responses)) {
        if (!response || !/^[45]\d\d$/.test(status) || '$ref' in response) continue;
        const json = response.content?.['application/json'];
        if (!json?.schema) response.content = { 'application/json': { schema: ERROR_SCHEMA } };
        else if (!('$ref' in json.schema && json.schema.$ref === ERROR_SCHEMA.$ref)) json.schema = { anyOf: [json.schema, ERROR_SCHEMA] };
      }
      responses.default = error('Any other error. `code` is one of docs/errors.md; a refused request changes nothing.');
    }
  }
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

/**
 * Builds the Nest application on Fastify with its logger (nestjs-pino, see
 * src/common/app-logger.ts), the global filter, validation and Swagger.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
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
      logger: createAppLogger(config.log),
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
  // Every line logged while serving a request carries its id, and each request its access line.
  registerRequestLogging(http, config.log);
  // A worker-only instance still answers probes and scrapes, nothing else.
  const workerOnly = config.dispatch.role === 'worker';
  // The caller gets the request id back to quote (the id its log lines carry).
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
    done();
  });
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  return app;
}
