import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DidAdapter } from '../../../src/events/adapters/did-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new DidAdapter();

const DID = {
  id: 4471,
  did: '442071234567',
  status: 'active',
  operators_id: 9,
  tag: 'UK London',
  notes: '',
  clients_id: 12,
  accounts_id: 31,
};
const ev = (event: string, data: Record<string, unknown>, objectId = 4471) => ({ event, objectId, data });
const update = (patch: Record<string, unknown>, beforePatch: Record<string, unknown> = {}) => ({
  op: 'update',
  before: { ...DID, ...beforePatch },
  after: { ...DID, ...patch },
});

const STATUS_EVENTS: readonly [string, string, string][] = [
  ['active', 'in_stock', 'dids.stock'],
  ['in_stock', 'reserved', 'dids.reserve'],
  ['reserved', 'active', 'dids.activate'],
  ['active', 'blocked', 'dids.block'],
  ['active', 'hold', 'dids.hold'],
  ['hold', 'archive', 'dids.archive'],
];

describe('DidAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'did');
    assert.equal(adapter.shape, 'did');
    assert.deepEqual(adapter.operations, ['create', 'update']);
    assert.deepEqual(adapter.emits, [
      'dids.create',
      'dids.update',
      'dids.stock',
      'dids.reserve',
      'dids.activate',
      'dids.block',
      'dids.hold',
      'dids.archive',
    ]);
  });

  runDeriveCases(adapter, [
    { name: 'create → dids.create with data = after', change: { op: 'create', after: { ...DID, status: 'in_stock' } }, expected: [ev('dids.create', { ...DID, status: 'in_stock' })] },
    { name: 'create passes unknown fields through', change: { op: 'create', after: { id: 5, x_port: 'BT' } }, expected: [ev('dids.create', { id: 5, x_port: 'BT' }, 5)] },
    ...STATUS_EVENTS.map(([from, to, event]) => ({
      name: `status ${from} → ${to} → ${event} with data = full after`,
      change: update({ status: to }, { status: from }),
      expected: [ev(event, { ...DID, status: to })],
    })),
    { name: 'notes changed → dids.update with data = full after', change: update({ notes: 'Ported' }), expected: [ev('dids.update', { ...DID, notes: 'Ported' })] },
    {
      name: 'notes and status changed → dids.update, then the status event',
      change: update({ notes: 'Ported', status: 'blocked' }),
      expected: [ev('dids.update', { ...DID, notes: 'Ported', status: 'blocked' }), ev('dids.block', { ...DID, notes: 'Ported', status: 'blocked' })],
    },
    {
      name: 'moved to stock with clients_id cleared → dids.update then dids.stock',
      change: update({ status: 'in_stock', clients_id: null, accounts_id: null }),
      expected: [
        ev('dids.update', { ...DID, status: 'in_stock', clients_id: null, accounts_id: null }),
        ev('dids.stock', { ...DID, status: 'in_stock', clients_id: null, accounts_id: null }),
      ],
    },
    {
      name: 'changed unknown field → dids.update, unknown fields kept',
      change: update({ x_port: 'new' }, { x_port: 'old' }),
      expected: [ev('dids.update', { ...DID, x_port: 'new' })],
    },
    { name: 'nothing differs → []', change: update({}), expected: [] },
    { name: 'keys only in before ignored → []', change: { op: 'update', before: DID, after: { id: 4471, status: 'active' } }, expected: [] },
    { name: 'status cleared to null → no event', change: update({ status: null }), expected: [] },
  ] satisfies DeriveCase[]);

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'op delete → INVALID_OPERATION', change: { op: 'delete', before: DID }, code: 'INVALID_OPERATION', field: 'op', message: 'create, update' },
      { name: 'op activate → INVALID_OPERATION (status events come from update)', change: { op: 'activate', after: DID }, code: 'INVALID_OPERATION', field: 'op' },
      { name: 'create without after → VALIDATION_FAILED after', change: { op: 'create' }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'update without before → VALIDATION_FAILED before', change: { op: 'update', after: DID }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'before not an object → VALIDATION_FAILED before', change: { op: 'update', before: 'x', after: DID }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'after.status unknown → DATA_INVALID after.status', change: update({ status: 'ported' }), code: 'DATA_INVALID', field: 'after.status' },
      { name: 'after.did a number → DATA_INVALID after.did', change: { op: 'create', after: { ...DID, did: 442071234567 } }, code: 'DATA_INVALID', field: 'after.did' },
      { name: 'missing after.id → DATA_INVALID after.id', change: { op: 'create', after: { did: '1' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: update({}, { id: 4470 }), code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
