import { randomUUID } from 'node:crypto';

const CALLER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * A request's id (Fastify's genReqId): the caller's X-Request-Id when it is short and plain (so
 * logs stay clean), else a fresh UUID. It is answered in X-Request-Id and carried as `request_id`
 * by every line logged while serving the request (src/common/app-logger.ts).
 */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && CALLER_ID.test(header) ? header : randomUUID();
}
