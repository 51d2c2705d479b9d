import assert from 'node:assert/strict';
import { bearer, type TestApp } from '../utils/test-app.js';

/** A valid create-handler body; override any field. */
export function handlerBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'CRM hook',
    event: 'clients.create',
    type: 'http',
    task: '127.0.0.1:5000/api',
    priority: 10,
    ...overrides,
  };
}

/** The fields of a created handler most tests read; the answer holds every field of the document. */
export interface CreatedHandler {
  id: number;
  name: string;
  status: string;
  signing_secret: string;
  updated_at: string;
  [field: string]: unknown;
}

type Api = Pick<TestApp, 'http' | 'adminKey'>;

/** Posts `body` as it is to create a handler (admin key unless `headers` say otherwise), asserts 201, answers the handler. */
export async function postHandler(t: Api, body: Record<string, unknown>, headers: Record<string, string> = bearer(t.adminKey)): Promise<CreatedHandler> {
  const response = await t.http.post('/api/v1/handlers').set(headers).send(body);
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body as CreatedHandler;
}

/** Creates a handler from handlerBody(overrides) through the API: see postHandler. */
export function createHandler(t: Api, overrides: Record<string, unknown> = {}, headers?: Record<string, string>): Promise<CreatedHandler> {
  return postHandler(t, handlerBody(overrides), headers);
}
