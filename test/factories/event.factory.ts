import assert from 'node:assert/strict';
import { eventually } from '../utils/receiver.js';
import { bearer, type TestApp } from '../utils/test-app.js';

/** What POST /api/v1/events answers (202). */
export interface AcceptedEvent {
  id: number;
  dt: string;
  replayed: boolean;
  deliveries: { handler_id: number }[];
}

/** An event of the catalog with the object it is about: `clients.update` of object 1 unless overridden. */
export function eventBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const objectId = (overrides.object_id as number | undefined) ?? 1;
  return { event: 'clients.update', object_id: objectId, data: { id: objectId }, ...overrides };
}

/** A client record as a source system sends it in a change (POST /api/v1/sources/client/changes); override any field. */
export function clientRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 12,
    name: 'Acme',
    status: 'active',
    balance: 10,
    credit: '100.00',
    custom_fields: { crm: 'A-1' },
    ...overrides,
  };
}

/** Posts one event as it is (with the admin key unless `headers` say otherwise), asserts 202 and answers the acceptance. */
export async function postEvent(t: Pick<TestApp, 'http' | 'adminKey'>, body: Record<string, unknown>, headers: Record<string, string> = bearer(t.adminKey)): Promise<AcceptedEvent> {
  const response = await t.http.post('/api/v1/events').set(headers).send(body);
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body as AcceptedEvent;
}

/** A delivery's status once nothing will happen to it without a manual retry. */
export const FINISHED = ['succeeded', 'failed', 'skipped'] as const;

export interface SettleOptions {
  /** Headers for GET /api/v1/events/:id (the admin key by default). */
  headers?: Record<string, string>;
  /** Wait for at least one delivery too (an event that has none yet is not settled). */
  atLeastOneDelivery?: boolean;
  timeoutMs?: number;
}

/**
 * Waits until every delivery of the event is finished (FINISHED) and answers the event as
 * GET /api/v1/events/:id shows it then; fails after `timeoutMs` (15 s).
 */
export async function waitUntilSettled(t: Pick<TestApp, 'http' | 'adminKey'>, id: number, options: SettleOptions = {}): Promise<any> {
  const headers = options.headers ?? bearer(t.adminKey);
  return eventually(
    async () => {
      const state = (await t.http.get(`/api/v1/events/${id}`).set(headers)).body;
      const finished = state.deliveries.every((d: { status: string }) => (FINISHED as readonly string[]).includes(d.status));
      return finished && (!options.atLeastOneDelivery || state.deliveries.length > 0) ? state : undefined;
    },
    options.timeoutMs ?? 15_000,
    `event ${id} settled`,
  );
}

/** Waits until event `id` has an execution-log row and answers the first one (GET /api/v1/execution-logs?event_id=); fails after `timeoutMs` (10 s). */
export async function firstLogOf(t: Pick<TestApp, 'http' | 'adminKey'>, id: number, options: Omit<SettleOptions, 'atLeastOneDelivery'> = {}): Promise<any> {
  const headers = options.headers ?? bearer(t.adminKey);
  return eventually(
    async () => {
      const page = await t.http.get(`/api/v1/execution-logs?event_id=${id}`).set(headers);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      return page.body.items.length > 0 ? page.body.items[0] : undefined;
    },
    options.timeoutMs ?? 10_000,
    `an execution log row for event ${id}`,
  );
}
