import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { AccountAdapter } from '../../../src/events/adapters/account-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new AccountAdapter();

const ACCOUNT = {
  id: 31,
  clients_id: 12,
  name: 'Acme SIP trunk #1',
  auth_type: 'ip',
  ips: ['203.0.113.10'],
  orig_enabled: true,
  term_enabled: true,
  status: 'active',
};
const ev = (event: string, data: Record<string, unknown> = {}, objectId = 31) => ({ event, objectId, data });
const update = (patch: Record<string, unknown>, beforePatch: Record<string, unknown> = {}) => ({
  op: 'update',
  before: { ...ACCOUNT, ...beforePatch },
  after: { ...ACCOUNT, ...patch },
});

describe('AccountAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'account');
    assert.equal(adapter.shape, 'account');
    assert.deepEqual(adapter.operations, ['create', 'update', 'delete']);
    assert.deepEqual(adapter.emits, ['clients.accounts.create', 'clients.accounts.update', 'clients.accounts.delete']);
  });

  runDeriveCases(adapter, [
    { name: 'create → clients.accounts.create with data = after', change: { op: 'create', after: ACCOUNT }, expected: [ev('clients.accounts.create', ACCOUNT)] },
    {
      name: 'create passes unknown fields through',
      change: { op: 'create', after: { ...ACCOUNT, x_sbc: 'edge-2' } },
      expected: [ev('clients.accounts.create', { ...ACCOUNT, x_sbc: 'edge-2' })],
    },
    { name: 'update with nothing changed → []', change: update({}), expected: [] },
    { name: 'update with only keys of before missing from after → []', change: { op: 'update', before: ACCOUNT, after: { id: 31 } }, expected: [] },
    {
      name: 'ips added → clients.accounts.update {id, ips}',
      change: update({ ips: ['203.0.113.10', '203.0.113.11'] }),
      expected: [ev('clients.accounts.update', { id: 31, ips: ['203.0.113.10', '203.0.113.11'] })],
    },
    {
      name: 'several fields → one clients.accounts.update with each changed field',
      change: update({ orig_enabled: false, name: 'Trunk', status: 'blocked' }),
      expected: [ev('clients.accounts.update', { id: 31, name: 'Trunk', orig_enabled: false, status: 'blocked' })],
    },
    {
      name: 'changed unknown field passed through',
      change: update({ x_sbc: 'edge-3' }, { x_sbc: 'edge-2' }),
      expected: [ev('clients.accounts.update', { id: 31, x_sbc: 'edge-3' })],
    },
    { name: 'delete → clients.accounts.delete, data {}', change: { op: 'delete', before: ACCOUNT }, expected: [ev('clients.accounts.delete')] },
    { name: 'delete with only after', change: { op: 'delete', after: { id: 32 } }, expected: [ev('clients.accounts.delete', {}, 32)] },
  ] satisfies DeriveCase[]);

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'unknown op → INVALID_OPERATION', change: { op: 'archive', after: ACCOUNT }, code: 'INVALID_OPERATION', field: 'op', message: 'create, update, delete' },
      { name: 'create without after → VALIDATION_FAILED after', change: { op: 'create' }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'update without before → VALIDATION_FAILED before', change: { op: 'update', after: ACCOUNT }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'delete with neither → VALIDATION_FAILED', change: { op: 'delete' }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'after not an object → VALIDATION_FAILED after', change: { op: 'create', after: true }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after.ips a string → DATA_INVALID after.ips', change: { op: 'create', after: { ...ACCOUNT, ips: '203.0.113.10' } }, code: 'DATA_INVALID', field: 'after.ips' },
      { name: 'after.orig_enabled "yes" → DATA_INVALID', change: update({ orig_enabled: 'yes' }), code: 'DATA_INVALID', field: 'after.orig_enabled' },
      { name: 'before.clients_id 1.5 → DATA_INVALID', change: update({}, { clients_id: 1.5 }), code: 'DATA_INVALID', field: 'before.clients_id' },
      { name: 'missing after.id → DATA_INVALID after.id', change: { op: 'create', after: { name: 'x' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: update({ id: 30 }), code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
