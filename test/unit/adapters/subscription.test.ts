import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { SubscriptionAdapter } from '../../../src/events/adapters/subscription-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new SubscriptionAdapter();

const SUB = {
  id: 205,
  clients_id: 12,
  packages_id: 7,
  status: 'active',
  start_dt: '2026-11-01T00:00:00+00:00',
  stop_dt: '2027-10-31T23:59:59+00:00',
  renew_due: '2026-12-01T00:00:00+00:00',
};
const ev = (event: string, data: Record<string, unknown>, objectId = 205) => ({ event, objectId, data });
const status = (from: string | undefined, to: string, extra: Record<string, unknown> = {}) => ({
  op: 'update',
  before: from === undefined ? { id: 205 } : { ...SUB, status: from },
  after: { ...SUB, ...extra, status: to },
});

describe('SubscriptionAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'subscription');
    assert.equal(adapter.shape, 'subscription');
    assert.deepEqual(adapter.operations, ['assign', 'activate', 'deactivate', 'renew', 'close', 'update']);
    assert.deepEqual(adapter.emits, [
      'clients.subscriptions.assign',
      'clients.subscriptions.activate',
      'clients.subscriptions.deactivate',
      'clients.subscriptions.renew',
      'clients.subscriptions.close',
    ]);
  });

  describe('own operations → clients.subscriptions.<op> with data = after', () => {
    runDeriveCases(adapter, [
      ...['assign', 'activate', 'deactivate', 'renew', 'close'].map((op) => ({
        name: `${op} → clients.subscriptions.${op}`,
        change: { op, after: { ...SUB, x_note: op } },
        expected: [ev(`clients.subscriptions.${op}`, { ...SUB, x_note: op })],
      })),
      {
        name: 'renew with before sent: data is still after',
        change: { op: 'renew', before: SUB, after: { ...SUB, renew_due: '2027-01-01T00:00:00+00:00' } },
        expected: [ev('clients.subscriptions.renew', { ...SUB, renew_due: '2027-01-01T00:00:00+00:00' })],
      },
    ] satisfies DeriveCase[]);
  });

  describe('update → the status change decides', () => {
    runDeriveCases(adapter, [
      { name: 'pending → active gives activate', change: status('pending', 'active'), expected: [ev('clients.subscriptions.activate', SUB)] },
      { name: 'archive → active gives activate', change: status('archive', 'active'), expected: [ev('clients.subscriptions.activate', SUB)] },
      { name: 'no status before → active gives activate', change: status(undefined, 'active'), expected: [ev('clients.subscriptions.activate', SUB)] },
      { name: 'active → pending gives deactivate', change: status('active', 'pending'), expected: [ev('clients.subscriptions.deactivate', { ...SUB, status: 'pending' })] },
      { name: 'active → archive gives close', change: status('active', 'archive'), expected: [ev('clients.subscriptions.close', { ...SUB, status: 'archive' })] },
      { name: 'pending → archive gives close', change: status('pending', 'archive'), expected: [ev('clients.subscriptions.close', { ...SUB, status: 'archive' })] },
      {
        name: 'status and other fields change: one status event, data = after (unknown fields kept)',
        change: status('active', 'archive', { stop_dt: '2026-11-22T10:15:30+00:00', x_reason: 'churn' }),
        expected: [ev('clients.subscriptions.close', { ...SUB, stop_dt: '2026-11-22T10:15:30+00:00', x_reason: 'churn', status: 'archive' })],
      },
      { name: 'archive → pending has no event', change: status('archive', 'pending'), expected: [] },
      { name: 'active → active (same status) with renew_due changed has no event', change: status('active', 'active', { renew_due: '2027-01-01T00:00:00+00:00' }), expected: [] },
      { name: 'only other fields changed → []', change: { op: 'update', before: SUB, after: { ...SUB, packages_id: 8 } }, expected: [] },
      { name: 'status cleared to null → []', change: { op: 'update', before: SUB, after: { ...SUB, status: null } }, expected: [] },
      { name: 'nothing differs → []', change: { op: 'update', before: SUB, after: SUB }, expected: [] },
    ] satisfies DeriveCase[]);
  });

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'op create → INVALID_OPERATION listing the ops', change: { op: 'create', after: SUB }, code: 'INVALID_OPERATION', field: 'op', message: 'assign, activate, deactivate, renew, close, update' },
      { name: 'assign without after → VALIDATION_FAILED after', change: { op: 'assign', before: SUB }, code: 'VALIDATION_FAILED', field: 'after', message: 'after is required for assign' },
      { name: 'update without before → VALIDATION_FAILED before', change: { op: 'update', after: SUB }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'after an array → VALIDATION_FAILED after', change: { op: 'close', after: [] }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after.status unknown → DATA_INVALID after.status', change: { op: 'activate', after: { ...SUB, status: 'enabled' } }, code: 'DATA_INVALID', field: 'after.status' },
      { name: 'after.start_dt not ISO 8601 → DATA_INVALID', change: { op: 'assign', after: { ...SUB, start_dt: '01/11/2026' } }, code: 'DATA_INVALID', field: 'after.start_dt' },
      { name: 'after.id missing → DATA_INVALID after.id', change: { op: 'renew', after: { status: 'active' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: { op: 'update', before: { ...SUB, id: 1 }, after: SUB }, code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
