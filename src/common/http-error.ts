import { HttpException, HttpStatus } from '@nestjs/common';
import { DomainError, ErrorCode, FieldProblem } from './errors.js';
import { isDatabaseTimeout, isDatabaseUnavailable } from '../database/database-errors.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details: FieldProblem[];
}

/** Fastify's own errors (body parsing happens before Nest sees the request). */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  // Answered by the router through the `frameworkErrors` option (see src/app.factory.ts).
  FST_ERR_BAD_URL: 'MALFORMED_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
};

const STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.NOT_FOUND]: 'ROUTE_NOT_FOUND',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'METHOD_NOT_ALLOWED',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [HttpStatus.UNSUPPORTED_MEDIA_TYPE]: 'UNSUPPORTED_MEDIA_TYPE',
  [HttpStatus.TOO_MANY_REQUESTS]: 'RATE_LIMITED',
  [HttpStatus.SERVICE_UNAVAILABLE]: 'SERVICE_UNAVAILABLE',
};

const GENERIC_MESSAGES: Record<string, string> = {
  MALFORMED_JSON: 'The request body is not valid JSON',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the configured limit',
  UNSUPPORTED_MEDIA_TYPE: 'Send the request body as application/json',
  MALFORMED_URL: 'The URL is not valid: a "%" must start an escape of two hexadecimal digits',
  URI_TOO_LONG: 'A path segment of the URL is longer than 100 characters',
};

/**
 * Maps anything thrown to the public error body. Unknown errors become a generic 500:
 * their message may carry SQL or internals, so it is never sent. Returns `internal`
 * so the caller can log the original.
 */
export function toErrorBody(error: unknown): { body: ErrorBody; internal: boolean } {
  if (isDatabaseUnavailable(error)) {
    // Only a statement left without an answer may have committed; a refused connection or a
    // wait for one never sent anything.
    const message = isDatabaseTimeout(error)
      ? 'The database did not answer in time. A write may or may not have been stored: retry later, with the same idempotency key for events.'
      : 'The database cannot be reached; nothing was changed. Retry later.';
    return { body: { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message, details: [] }, internal: false };
  }
  if (error instanceof DomainError) {
    return { body: { statusCode: error.statusCode, code: error.code, message: error.message, details: error.details }, internal: false };
  }
  // Nest wraps Fastify's body-parsing errors in an HttpException whose cause keeps Fastify's code.
  const fastifyCode = fastifyErrorCode(error) ?? fastifyErrorCode((error as { cause?: unknown })?.cause);
  if (fastifyCode) return fromCode(fastifyCode);
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = STATUS_CODES[status];
    if (code === 'ROUTE_NOT_FOUND') {
      return { body: { statusCode: status, code, message: 'No such route', details: [] }, internal: false };
    }
    if (code) return fromCode(code, status);
    if (status < 500) {
      return { body: { statusCode: status, code: 'VALIDATION_FAILED', message: error.message, details: [] }, internal: false };
    }
  }
  return {
    body: { statusCode: 500, code: 'INTERNAL_ERROR', message: 'An internal error occurred', details: [] },
    internal: true,
  };
}

function fastifyErrorCode(error: unknown): ErrorCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? FASTIFY_CODES[code] : undefined;
}

function fromCode(code: ErrorCode, status?: number): { body: ErrorBody; internal: boolean } {
  const error = new DomainError(code, GENERIC_MESSAGES[code] ?? code.toLowerCase().replace(/_/g, ' '));
  return { body: { statusCode: status ?? error.statusCode, code, message: error.message, details: [] }, internal: false };
}
