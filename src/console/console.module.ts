import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_SECURITY_HEADERS } from './console-assets.js';
import { ConsoleController } from './console.controller.js';

/** The operator console at /console: handlers, execution logs and the cache manager. */
@Module({ controllers: [ConsoleController] })
export class ConsoleModule implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  /** Nest routes drop a trailing slash, so /console/ is sent to /console by Fastify directly. */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.get('/console/', (_request, reply) => reply.headers(CONSOLE_SECURITY_HEADERS).redirect('/console', 301));
  }
}
