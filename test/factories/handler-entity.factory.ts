import type { HandlerEntity } from '../../src/handlers/handler.entity.js';

/**
 * A handler as the cache holds it (an enabled after handler of clients.create, no filter), for
 * tests of the in-memory index that need no database; override any field. Fields the index
 * does not read are left out.
 */
export function handlerEntity(overrides: Partial<HandlerEntity> & { id: number }): HandlerEntity {
  return {
    name: `handler ${overrides.id}`,
    event: 'clients.create',
    type: 'http',
    task: '127.0.0.1:5000/api',
    status: 'enabled',
    priority: 10,
    stage: 'after',
    timeoutMs: 15_000,
    retryLimit: 7,
    headers: {},
    filter: null,
    onFailure: null,
    disabledReason: null,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  } as HandlerEntity;
}
