import 'reflect-metadata';
import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { AppConfig, LogLevelName } from './config/app-config.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { createValidationPipe } from './common/validation.js';
import { eventSchemaComponents } from './events/event-schemas.js';

const LEVELS: LogLevelName[] = ['error', 'warn', 'log', 'debug', 'verbose'];

export function createLogger(config: AppConfig['log']): ConsoleLogger {
  const levels = LEVELS.slice(0, LEVELS.indexOf(config.level) + 1) as LogLevel[];
  return new ConsoleLogger({ json: config.format === 'json', logLevels: levels, prefix: 'Provisioning' });
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

/** Builds the Nest application on Fastify with the global filter, validation and Swagger. */
export async function createApp(config: AppConfig, logger: ConsoleLogger | false = createLogger(config.log)): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.http.bodyLimitBytes, trustProxy: false });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), adapter, {
    logger: logger === false ? false : logger,
    abortOnError: false,
  });
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
  return app;
}
