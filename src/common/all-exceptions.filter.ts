import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toErrorBody } from './http-error.js';

/** The one global filter: every error leaves as {statusCode, code, message, details}. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const { body, internal } = toErrorBody(exception);
    if (internal) this.logger.error((exception as Error)?.stack ?? String(exception));
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (body.code === 'DATABASE_UNAVAILABLE') {
      this.logger.warn(`Database unavailable: ${(exception as Error)?.message ?? String(exception)}`);
      void reply.header('retry-after', '5');
    }
    if (body.code === 'RATE_LIMITED' && !reply.hasHeader('retry-after')) void reply.header('retry-after', '1');
    void reply.status(body.statusCode).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
