import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ClientAdapter } from '../../../src/events/adapters/client-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new ClientAdapter();

const CLIENT = {
  id: 12,
  name: 'Acme Telecom Ltd',
  status: 'active',
  credit: 500,
  balance: 10,
  tags: ['wholesale', 'premium'],
  custom_fields: { crm_id: 'CRM-1', account_manager: 'J. Smith' },
};

/** An update from CLIENT to CLIENT with `patch` applied (and `beforePatch` applied to before). */
const update = (patch: Record<string, unknown>, beforePatch: Record<string, unknown> = {}) => ({
  op: 'update',
  before: { ...CLIENT, ...beforePatch },
  after: { ...CLIENT, ...patch },
});
const ev = (event: string, data: Record<string, unknown> = {}, objectId = 12) => ({ event, objectId, data });

describe('ClientAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'client');
    assert.equal(adapter.shape, 'client');
    assert.deepEqual(adapter.operations, ['create', 'update', 'delete']);
    assert.deepEqual(adapter.emits, [
      'clients.create',
      'clients.update',
      'clients.custom_fields.update',
      'clients.balance_zero',
      'clients.balance_notzero',
      'clients.archive',
      'clients.delete',
    ]);
  });

  describe('create and delete', () => {
    runDeriveCases(adapter, [
      { name: 'create → clients.create with data = after', change: { op: 'create', after: CLIENT }, expected: [ev('clients.create', CLIENT)] },
      {
        name: 'create passes unknown fields through',
        change: { op: 'create', after: { ...CLIENT, x_vendor: { a: [1] } } },
        expected: [ev('clients.create', { ...CLIENT, x_vendor: { a: [1] } })],
      },
      {
        name: 'create accepts decimal strings and nulls',
        change: { op: 'create', after: { id: 7, balance: '10.50', credit: null } },
        expected: [ev('clients.create', { id: 7, balance: '10.50', credit: null }, 7)],
      },
      { name: 'delete with before → clients.delete, data {}', change: { op: 'delete', before: CLIENT }, expected: [ev('clients.delete')] },
      { name: 'delete with only after uses after.id', change: { op: 'delete', after: { id: 44 } }, expected: [ev('clients.delete', {}, 44)] },
      {
        name: 'delete with before and after (same id)',
        change: { op: 'delete', before: CLIENT, after: { id: 12, status: 'archive' } },
        expected: [ev('clients.delete')],
      },
      { name: 'delete with after null uses before', change: { op: 'delete', before: { id: 3 }, after: null }, expected: [ev('clients.delete', {}, 3)] },
    ] satisfies DeriveCase[]);
  });

  describe('update', () => {
    runDeriveCases(adapter, [
      { name: 'nothing differs → []', change: update({}), expected: [] },
      { name: 'balance 10 and "10.00" are equal → []', change: update({ balance: '10.00' }), expected: [] },
      {
        name: 'custom_fields with the same entries in another key order → []',
        change: update({ custom_fields: { account_manager: 'J. Smith', crm_id: 'CRM-1' } }),
        expected: [],
      },
      { name: 'keys only in before are ignored → []', change: { op: 'update', before: CLIENT, after: { id: 12, name: CLIENT.name } }, expected: [] },
      { name: 'name changed → clients.update {id, name}', change: update({ name: 'New name' }), expected: [ev('clients.update', { id: 12, name: 'New name' })] },
      {
        name: 'tags reordered → clients.update {id, tags}',
        change: update({ tags: ['premium', 'wholesale'] }),
        expected: [ev('clients.update', { id: 12, tags: ['premium', 'wholesale'] })],
      },
      {
        name: 'a key absent from before counts as changed',
        change: update({ c_company: 'Acme' }),
        expected: [ev('clients.update', { id: 12, c_company: 'Acme' })],
      },
      {
        name: 'before without id: the id comes from after',
        change: { op: 'update', before: { name: 'Old' }, after: { id: 12, name: 'New' } },
        expected: [ev('clients.update', { id: 12, name: 'New' })],
      },
      {
        name: 'changed unknown field is passed through in clients.update',
        change: update({ x_crm_ref: 'B-2', x_same: 1 }, { x_crm_ref: 'B-1', x_same: 1 }),
        expected: [ev('clients.update', { id: 12, x_crm_ref: 'B-2' })],
      },
      {
        name: 'custom_fields value changed → clients.update then clients.custom_fields.update',
        change: update({ custom_fields: { crm_id: 'CRM-1', account_manager: 'A. Jones' } }),
        expected: [
          ev('clients.update', { id: 12, custom_fields: { crm_id: 'CRM-1', account_manager: 'A. Jones' } }),
          ev('clients.custom_fields.update', { id: 12, custom_fields: { crm_id: 'CRM-1', account_manager: 'A. Jones' } }),
        ],
      },
      {
        name: 'custom_fields key added → custom_fields.update',
        change: update({ custom_fields: { ...CLIENT.custom_fields, region: 'EU' } }),
        expected: [
          ev('clients.update', { id: 12, custom_fields: { ...CLIENT.custom_fields, region: 'EU' } }),
          ev('clients.custom_fields.update', { id: 12, custom_fields: { ...CLIENT.custom_fields, region: 'EU' } }),
        ],
      },
      {
        name: 'balance 10 → 0 (exactly 0 counts as <= 0) → balance_zero',
        change: update({ balance: 0 }),
        expected: [ev('clients.update', { id: 12, balance: 0 }), ev('clients.balance_zero')],
      },
      {
        name: 'balance 10 → -5 → balance_zero',
        change: update({ balance: -5 }),
        expected: [ev('clients.update', { id: 12, balance: -5 }), ev('clients.balance_zero')],
      },
      {
        name: 'balance "10.50" → "-5" (decimal strings) → balance_zero',
        change: update({ balance: '-5' }, { balance: '10.50' }),
        expected: [ev('clients.update', { id: 12, balance: '-5' }), ev('clients.balance_zero')],
      },
      {
        name: 'balance "0.01" → "0.00" → balance_zero',
        change: update({ balance: '0.00' }, { balance: '0.01' }),
        expected: [ev('clients.update', { id: 12, balance: '0.00' }), ev('clients.balance_zero')],
      },
      {
        name: 'balance -5 → 20 (negative to positive) → balance_notzero',
        change: update({ balance: 20 }, { balance: -5 }),
        expected: [ev('clients.update', { id: 12, balance: 20 }), ev('clients.balance_notzero')],
      },
      {
        name: 'balance 0 → 0.01 → balance_notzero',
        change: update({ balance: 0.01 }, { balance: 0 }),
        expected: [ev('clients.update', { id: 12, balance: 0.01 }), ev('clients.balance_notzero')],
      },
      {
        name: 'balance 10 → 20 (positive to positive) → no balance event',
        change: update({ balance: 20 }),
        expected: [ev('clients.update', { id: 12, balance: 20 })],
      },
      {
        name: 'balance -1 → -5 (negative to negative) → no balance event',
        change: update({ balance: -5 }, { balance: -1 }),
        expected: [ev('clients.update', { id: 12, balance: -5 })],
      },
      {
        name: 'balance 0 → -3 (both <= 0) → no balance event',
        change: update({ balance: -3 }, { balance: 0 }),
        expected: [ev('clients.update', { id: 12, balance: -3 })],
      },
      {
        name: 'balance null → 5: no balance event (both must be present)',
        change: update({ balance: 5 }, { balance: null }),
        expected: [ev('clients.update', { id: 12, balance: 5 })],
      },
      {
        name: 'balance absent from before → 5: no balance event',
        change: { op: 'update', before: { id: 12 }, after: { id: 12, balance: 5 } },
        expected: [ev('clients.update', { id: 12, balance: 5 })],
      },
      {
        name: 'balance 10 → null: no balance event',
        change: update({ balance: null }),
        expected: [ev('clients.update', { id: 12, balance: null })],
      },
      {
        name: 'status active → archive → clients.update then clients.archive',
        change: update({ status: 'archive' }),
        expected: [ev('clients.update', { id: 12, status: 'archive' }), ev('clients.archive')],
      },
      {
        name: 'status suspended → archive → archive',
        change: update({ status: 'archive' }, { status: 'suspended' }),
        expected: [ev('clients.update', { id: 12, status: 'archive' }), ev('clients.archive')],
      },
      {
        name: 'already archived, name changed → no archive event',
        change: update({ status: 'archive', name: 'X' }, { status: 'archive' }),
        expected: [ev('clients.update', { id: 12, name: 'X' })],
      },
      {
        name: 'archive → active → clients.update only',
        change: update({ status: 'active' }, { status: 'archive' }),
        expected: [ev('clients.update', { id: 12, status: 'active' })],
      },
      {
        name: 'name, custom_fields, balance 10 → -5 and status → archive: four events in the fixed order',
        change: update({ name: 'Renamed', custom_fields: { crm_id: 'CRM-2' }, balance: -5, status: 'archive' }),
        expected: [
          ev('clients.update', { id: 12, name: 'Renamed', custom_fields: { crm_id: 'CRM-2' }, balance: -5, status: 'archive' }),
          ev('clients.custom_fields.update', { id: 12, custom_fields: { crm_id: 'CRM-2' } }),
          ev('clients.balance_zero'),
          ev('clients.archive'),
        ],
      },
      {
        name: 'balance -5 → 10 with custom_fields: update, custom_fields.update, balance_notzero',
        change: update({ balance: 10, custom_fields: {} }, { balance: -5 }),
        expected: [
          ev('clients.update', { id: 12, balance: 10, custom_fields: {} }),
          ev('clients.custom_fields.update', { id: 12, custom_fields: {} }),
          ev('clients.balance_notzero'),
        ],
      },
    ] satisfies DeriveCase[]);

    it('clients.update data keeps the order of after and always starts with id', () => {
      const [first] = adapter.derive(update({ status: 'suspended', name: 'B' }));
      assert.deepEqual(Object.keys(first!.data), ['id', 'name', 'status']);
    });
  });

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'unknown op → INVALID_OPERATION listing the ops', change: { op: 'archive', after: CLIENT }, code: 'INVALID_OPERATION', field: 'op', message: 'create, update, delete' },
      { name: 'missing op → INVALID_OPERATION', change: { after: CLIENT }, code: 'INVALID_OPERATION', field: 'op' },
      { name: 'non-string op → INVALID_OPERATION', change: { op: 1, after: CLIENT }, code: 'INVALID_OPERATION', field: 'op' },
      { name: 'op in another case → INVALID_OPERATION', change: { op: 'CREATE', after: CLIENT }, code: 'INVALID_OPERATION', field: 'op' },
      { name: 'change not an object → VALIDATION_FAILED', change: 'create', code: 'VALIDATION_FAILED', field: 'change' },
      { name: 'create without after → VALIDATION_FAILED after', change: { op: 'create' }, code: 'VALIDATION_FAILED', field: 'after', message: 'after is required for create' },
      { name: 'create with after null → VALIDATION_FAILED after', change: { op: 'create', after: null }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'update without before → VALIDATION_FAILED before', change: { op: 'update', after: CLIENT }, code: 'VALIDATION_FAILED', field: 'before', message: 'before is required for update' },
      { name: 'update without after → VALIDATION_FAILED after', change: { op: 'update', before: CLIENT }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'update with neither → both reported', change: { op: 'update' }, code: 'VALIDATION_FAILED', field: 'after', more: ['before'] },
      { name: 'delete with neither before nor after → VALIDATION_FAILED', change: { op: 'delete' }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'after an array → VALIDATION_FAILED after', change: { op: 'create', after: [CLIENT] }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after a string → VALIDATION_FAILED after', change: { op: 'create', after: '{"id":12}' }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'before a number → VALIDATION_FAILED before', change: { op: 'update', before: 12, after: CLIENT }, code: 'VALIDATION_FAILED', field: 'before' },
      { name: 'after.balance not a decimal → DATA_INVALID after.balance', change: { op: 'create', after: { ...CLIENT, balance: 'ten' } }, code: 'DATA_INVALID', field: 'after.balance' },
      { name: 'before.status not in the enum → DATA_INVALID before.status', change: update({}, { status: 'deleted' }), code: 'DATA_INVALID', field: 'before.status' },
      { name: 'after.tags not strings → DATA_INVALID after.tags', change: update({ tags: [1] }), code: 'DATA_INVALID', field: 'after.tags' },
      { name: 'nested custom field → DATA_INVALID after.custom_fields.x', change: update({ custom_fields: { x: { y: 1 } } }), code: 'DATA_INVALID', field: 'after.custom_fields.x' },
      { name: 'every shape problem is reported', change: update({ name: 5, balance: 'x' }, { credit: true }), code: 'DATA_INVALID', field: 'before.credit', more: ['after.name', 'after.balance'] },
      { name: 'create without after.id → DATA_INVALID after.id', change: { op: 'create', after: { name: 'X' } }, code: 'DATA_INVALID', field: 'after.id', message: 'after.id is required' },
      { name: 'after.id 0 → DATA_INVALID after.id', change: { op: 'create', after: { ...CLIENT, id: 0 } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'after.id a string → DATA_INVALID after.id', change: { op: 'create', after: { ...CLIENT, id: '12' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'after.id null → DATA_INVALID after.id', change: { op: 'create', after: { ...CLIENT, id: null } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'update without after.id → DATA_INVALID after.id', change: { op: 'update', before: CLIENT, after: { name: 'X' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: update({ id: 13 }), code: 'DATA_INVALID', field: 'after.id', message: 'must equal before.id' },
      { name: 'delete: before without id → DATA_INVALID before.id', change: { op: 'delete', before: { name: 'X' } }, code: 'DATA_INVALID', field: 'before.id' },
      { name: 'delete: before.id ≠ after.id → DATA_INVALID after.id', change: { op: 'delete', before: { id: 1 }, after: { id: 2 } }, code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
