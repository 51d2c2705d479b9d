import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { RatesEmailAdapter } from '../../../src/events/adapters/rates-email-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new RatesEmailAdapter();
const EMAIL = { id: 318, file_name: 'carrier_a.xlsx', rate_tables_id: 14, error: null };
const OPS = ['import', 'rate_tables_no_match', 'no_attachments', 'file_processing_error'];

describe('RatesEmailAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'rates-email');
    assert.equal(adapter.shape, 'rates_email');
    assert.deepEqual(adapter.operations, OPS);
    assert.deepEqual(adapter.emits, OPS.map((op) => `email_rates_manager.${op}`));
  });

  runDeriveCases(adapter, [
    ...OPS.map((op) => ({
      name: `${op} → email_rates_manager.${op} with data = after (unknown fields kept)`,
      change: { op, after: { ...EMAIL, x_sender: 'rates@carrier-a.example' } },
      expected: [{ event: `email_rates_manager.${op}`, objectId: 318, data: { ...EMAIL, x_sender: 'rates@carrier-a.example' } }],
    })),
    {
      name: 'no_attachments with file_name null',
      change: { op: 'no_attachments', after: { ...EMAIL, file_name: null, error: 'No attachments found' } },
      expected: [{ event: 'email_rates_manager.no_attachments', objectId: 318, data: { ...EMAIL, file_name: null, error: 'No attachments found' } }],
    },
  ] satisfies DeriveCase[]);

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'unknown op → INVALID_OPERATION listing the ops', change: { op: 'received', after: EMAIL }, code: 'INVALID_OPERATION', field: 'op', message: OPS.join(', ') },
      { name: 'missing after → VALIDATION_FAILED after', change: { op: 'import' }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after an array → VALIDATION_FAILED after', change: { op: 'import', after: [EMAIL] }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after.file_name a number → DATA_INVALID', change: { op: 'import', after: { ...EMAIL, file_name: 1 } }, code: 'DATA_INVALID', field: 'after.file_name' },
      { name: 'after.id negative → DATA_INVALID after.id', change: { op: 'import', after: { ...EMAIL, id: -1 } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'missing after.id → DATA_INVALID after.id', change: { op: 'import', after: { error: 'x' } }, code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
