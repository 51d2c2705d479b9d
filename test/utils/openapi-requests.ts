/**
 * Builds real requests from the OpenAPI document for the examples and fuzz tests: the records a
 * route's path ids point to, the document's request examples, and the scopes an operation needs.
 */
import assert from 'node:assert/strict';
import type { OpenAPIObject } from '@nestjs/swagger';
import { bearer, TestApp } from './test-app.js';
import { eventually, TestReceiver } from './receiver.js';
import { DocumentedOperation, resolveRef } from './openapi-contract.js';
import { postHandler } from '../factories/handler.factory.js';
import { postEvent } from '../factories/event.factory.js';

/** Records created through the API so that every `{id}` of the document points at something real. */
export interface Fixtures {
  receiver: TestReceiver;
  /** An enabled http handler for clients.create, calling `receiver`. */
  handler: number;
  /** A handler only the toggle route uses (toggling changes its status). */
  toggleHandler: number;
  /** A handler only the delete route uses. */
  deleteHandler: number;
  /** An event delivered to `handler`, and the execution log of that call. */
  event: number;
  log: number;
  /** A delivery that failed for good (its handler calls a closed port, no retries). */
  failedDelivery: number;
  /** An API key only the revoke route uses. */
  spareKey: number;
  /** A maintenance window of `handler`, far in the future (only its delete route uses it). */
  maintenanceWindow: number;
}

/**
 * The document the app serves at /docs-json and the records its examples need (createFixtures);
 * the fixtures' receiver stops with the suite.
 */
export async function documentAndFixtures(t: TestApp & { cleanup(fn: () => Promise<void>): void }): Promise<{ document: OpenAPIObject; fixtures: Fixtures }> {
  const served = await t.http.get('/docs-json');
  assert.equal(served.status, 200);
  const fixtures = await createFixtures(t);
  t.cleanup(() => fixtures.receiver.stop());
  return { document: served.body as OpenAPIObject, fixtures };
}

export async function createFixtures(t: TestApp): Promise<Fixtures> {
  const admin = bearer(t.adminKey);
  const receiver = await new TestReceiver().start();
  const handler = async (body: Record<string, unknown>) =>
    (await postHandler(t, { name: 'fixture', event: 'clients.create', type: 'http', task: receiver.task('/fixture'), ...body }, admin)).id;
  const post = async (body: Record<string, unknown>) => (await postEvent(t, body, admin)).id;
  const main = await handler({ name: 'fixture: main' });
  const event = await post({ event: 'clients.create', object_id: 1, data: { id: 1 } });
  const log = await eventually(async () => {
    const logs = await t.http.get(`/api/v1/execution-logs?event_id=${event}`).set(admin);
    return logs.body.items?.[0]?.id as number | undefined;
  }, 15_000, 'the fixture event delivered');
  // Port 1 on loopback refuses at once; retry_limit 0 fails the delivery at the first attempt.
  await handler({ name: 'fixture: failing', event: 'dids.create', task: '127.0.0.1:1/closed', retry_limit: 0 });
  const failedEvent = await post({ event: 'dids.create', object_id: 7, data: { id: 7 } });
  const failedDelivery = await eventually(async () => {
    const state = await t.http.get(`/api/v1/events/${failedEvent}`).set(admin);
    const delivery = state.body.deliveries?.[0];
    return delivery?.status === 'failed' ? (delivery.id as number) : undefined;
  }, 15_000, 'the fixture delivery failed');
  const toggleHandler = await handler({ name: 'fixture: toggle', event: 'dids.update' });
  const deleteHandler = await handler({ name: 'fixture: delete', event: 'dids.update' });
  const key = await t.http.post('/api/v1/api-keys').set(admin).send({ name: 'fixture: spare', scopes: ['read'] });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  const window = await t.http
    .post(`/api/v1/handlers/${main}/maintenance-windows`)
    .set(admin)
    .send({ from: '2098-01-01T00:00:00Z', to: '2098-01-01T01:00:00Z', reason: 'fixture' });
  assert.equal(window.status, 201, JSON.stringify(window.body));
  return { receiver, handler: main, toggleHandler, deleteHandler, event, log, failedDelivery, spareKey: key.body.id, maintenanceWindow: window.body.id };
}

/**
 * The record each path's `{id}` (or other id parameter, `name`) means. A route added with an id
 * and no line here fails the examples test with a message naming it, rather than being skipped.
 */
export function fixtureId(method: string, path: string, fixtures: Fixtures, name = 'id'): number | undefined {
  if (name === 'windowId') return fixtures.maintenanceWindow;
  if (name !== 'id') return undefined;
  if (method === 'DELETE' && path === '/api/v1/handlers/{id}') return fixtures.deleteHandler;
  if (path === '/api/v1/handlers/{id}/toggle') return fixtures.toggleHandler;
  if (path.startsWith('/api/v1/handlers/{id}')) return fixtures.handler;
  if (path === '/api/v1/events/{id}') return fixtures.event;
  if (path === '/api/v1/deliveries/{id}/retry') return fixtures.failedDelivery;
  if (path === '/api/v1/execution-logs/{id}') return fixtures.log;
  if (path === '/api/v1/api-keys/{id}') return fixtures.spareKey;
  return undefined;
}

type Param = { name: string; in: string; required?: boolean; example?: unknown; schema?: Record<string, any> };

/** A parameter's example: its own, or its schema's (where @nestjs/swagger puts it). */
export const paramExample = (p: Param): unknown => p.example ?? p.schema?.example;

export function parametersOf(document: OpenAPIObject, operation: DocumentedOperation): Param[] {
  return ((operation.operation.parameters ?? []) as Record<string, any>[]).map((p) => resolveRef(document, p) as Param);
}

/** The path with each parameter filled: `values[name]`, else the parameter's example, else the fixture id. */
export function fillPath(
  document: OpenAPIObject,
  operation: DocumentedOperation,
  fixtures: Fixtures,
  values: Record<string, string> = {},
): string {
  return operation.path.replace(/\{([^}]+)\}/g, (_all, name: string) => {
    if (values[name] !== undefined) return values[name]!;
    const param = parametersOf(document, operation).find((p) => p.in === 'path' && p.name === name);
    if (param && paramExample(param) !== undefined) return encodeURIComponent(String(paramExample(param)));
    const id = fixtureId(operation.method, operation.path, fixtures, name);
    if (id === undefined) throw new Error(`${operation.method} ${operation.path}: no example and no fixture for {${name}}; add one to fixtureId()`);
    return String(id);
  });
}

/** The query string made of the query parameters' examples (empty when none has one). */
export function exampleQuery(document: OpenAPIObject, operation: DocumentedOperation): string {
  const pairs = parametersOf(document, operation)
    .filter((p) => p.in === 'query' && paramExample(p) !== undefined)
    .map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(paramExample(p)))}`);
  return pairs.length ? `?${pairs.join('&')}` : '';
}

/** The request body's JSON media type, resolved, or undefined when the operation takes no body. */
export function jsonBody(document: OpenAPIObject, operation: DocumentedOperation): { schema?: Record<string, any>; required: boolean; media: Record<string, any> } | undefined {
  const body = resolveRef(document, operation.operation.requestBody);
  const media = body?.content?.['application/json'];
  if (!media) return undefined;
  return { schema: media.schema ? resolveRef(document, media.schema) : undefined, required: body!.required === true, media };
}

/** The document's request examples of an operation: the media type's `example` and each of its `examples`. */
export function bodyExamples(document: OpenAPIObject, operation: DocumentedOperation): { name: string; value: unknown }[] {
  const media = jsonBody(document, operation)?.media;
  if (!media) return [];
  const examples: { name: string; value: unknown }[] = [];
  if (media.example !== undefined) examples.push({ name: 'example', value: media.example });
  for (const [name, example] of Object.entries((media.examples ?? {}) as Record<string, any>)) {
    examples.push({ name, value: resolveRef(document, example)?.value });
  }
  return examples;
}

/** The scopes the document says an operation accepts (`x-required-scopes`), or undefined. */
export function declaredScopes(operation: DocumentedOperation): string[] | undefined {
  const declared = operation.operation['x-required-scopes'] as { any_of?: string[] } | undefined;
  return declared?.any_of;
}

/** Sends one request with supertest. `body` is sent as JSON text exactly as given when a string. */
export function send(
  t: TestApp,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: { text: string; contentType?: string } | { json: unknown },
) {
  const m = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
  let request = t.http[m](url).set(headers);
  if (body && 'json' in body) request = request.send(body.json as object);
  else if (body) request = request.set('Content-Type', body.contentType ?? 'application/json').send(body.text);
  return request;
}
