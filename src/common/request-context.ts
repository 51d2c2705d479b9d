import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line written while serving one request carries, and where an audit row says a change came from. */
export interface RequestContext {
  requestId: string;
  /** The peer address of the connection (no proxy header is trusted); a getter, read only when needed. */
  readonly clientAddress: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

const CALLER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's X-Request-Id when it is short and plain (so logs stay clean), else a fresh UUID. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && CALLER_ID.test(header) ? header : randomUUID();
}

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

export function currentRequestContext(): RequestContext | undefined {
  return requestContext.getStore();
}
