import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { TransactionAdapter, type TransactionKind } from '../../../src/events/adapters/transaction-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const base = (kind: TransactionKind) => ({
  id: 90211,
  clients_id: 12,
  companies_id: 1,
  currencies_id: 2,
  type: kind,
  amount: 49.99,
  dt: '2026-11-22T10:15:30+00:00',
  payment_accounts_id: null,
  notes: 'Monthly DID rental',
  status: 'approved',
});

for (const kind of ['charge', 'payment'] as const) {
  const other = kind === 'charge' ? 'payment' : 'charge';
  const adapter = new TransactionAdapter(kind);
  const prefix = `accounting.${kind}s`;
  const T = base(kind);
  const ev = (op: string, data: Record<string, unknown> = {}, objectId = 90211) => ({ event: `${prefix}.${op}`, objectId, data });
  const update = (patch: Record<string, unknown>, beforePatch: Record<string, unknown> = {}) => ({
    op: 'update',
    before: { ...T, ...beforePatch },
    after: { ...T, ...patch },
  });

  describe(`TransactionAdapter(${kind})`, () => {
    it('describes itself', () => {
      assert.equal(adapter.entity, kind);
      assert.equal(adapter.shape, 'transaction');
      assert.deepEqual(adapter.operations, ['create', 'update', 'delete']);
      assert.deepEqual(adapter.emits, [`${prefix}.create`, `${prefix}.update`, `${prefix}.delete`]);
    });

    runDeriveCases(adapter, [
      { name: `create → ${prefix}.create with data = after`, change: { op: 'create', after: T }, expected: [ev('create', T)] },
      { name: 'create without type is accepted', change: { op: 'create', after: { id: 5, amount: '1.00' } }, expected: [ev('create', { id: 5, amount: '1.00' }, 5)] },
      { name: 'create with type null is accepted', change: { op: 'create', after: { id: 5, type: null } }, expected: [ev('create', { id: 5, type: null }, 5)] },
      { name: 'create passes unknown fields through', change: { op: 'create', after: { ...T, x_invoice: 'INV-1' } }, expected: [ev('create', { ...T, x_invoice: 'INV-1' })] },
      { name: 'update with nothing changed → []', change: update({}), expected: [] },
      { name: 'amount 49.99 → "49.990" is no change → []', change: update({ amount: '49.990' }), expected: [] },
      {
        name: `amount and notes changed → ${prefix}.update {id, amount, notes}`,
        change: update({ amount: 39.99, notes: 'discounted' }),
        expected: [ev('update', { id: 90211, amount: 39.99, notes: 'discounted' })],
      },
      { name: 'status pending → approved → update {id, status}', change: update({ status: 'approved' }, { status: 'pending' }), expected: [ev('update', { id: 90211, status: 'approved' })] },
      { name: 'changed unknown field passed through', change: update({ x_invoice: 'INV-2' }, { x_invoice: 'INV-1' }), expected: [ev('update', { id: 90211, x_invoice: 'INV-2' })] },
      { name: `delete → ${prefix}.delete, data {}`, change: { op: 'delete', before: T }, expected: [ev('delete')] },
      { name: 'delete with only after', change: { op: 'delete', after: { id: 7 } }, expected: [ev('delete', {}, 7)] },
    ] satisfies DeriveCase[]);

    describe('bad input', () => {
      runBadCases(adapter, [
        { name: `after.type '${other}' → DATA_INVALID after.type`, change: { op: 'create', after: { ...T, type: other } }, code: 'DATA_INVALID', field: 'after.type', message: `'${kind}'` },
        { name: `before.type '${other}' → DATA_INVALID before.type`, change: update({}, { type: other }), code: 'DATA_INVALID', field: 'before.type' },
        { name: `delete of a ${other} → DATA_INVALID before.type`, change: { op: 'delete', before: { ...T, type: other } }, code: 'DATA_INVALID', field: 'before.type' },
        { name: 'type outside the enum → DATA_INVALID after.type', change: { op: 'create', after: { ...T, type: 'refund' } }, code: 'DATA_INVALID', field: 'after.type' },
        { name: 'unknown op → INVALID_OPERATION', change: { op: 'approve', after: T }, code: 'INVALID_OPERATION', field: 'op', message: 'create, update, delete' },
        { name: 'create without after → VALIDATION_FAILED after', change: { op: 'create' }, code: 'VALIDATION_FAILED', field: 'after' },
        { name: 'update without before → VALIDATION_FAILED before', change: { op: 'update', after: T }, code: 'VALIDATION_FAILED', field: 'before' },
        { name: 'after a number → VALIDATION_FAILED after', change: { op: 'create', after: 5 }, code: 'VALIDATION_FAILED', field: 'after' },
        { name: 'after.amount "1,5" → DATA_INVALID after.amount', change: { op: 'create', after: { ...T, amount: '1,5' } }, code: 'DATA_INVALID', field: 'after.amount' },
        { name: 'after.status unknown → DATA_INVALID after.status', change: update({ status: 'void' }), code: 'DATA_INVALID', field: 'after.status' },
        { name: 'missing after.id → DATA_INVALID after.id', change: { op: 'create', after: { amount: 1 } }, code: 'DATA_INVALID', field: 'after.id' },
        { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: update({ id: 2 }), code: 'DATA_INVALID', field: 'after.id' },
      ] satisfies BadCase[]);
    });
  });
}
