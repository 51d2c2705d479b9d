import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ImportAdapter } from '../../../src/events/adapters/import-adapter.js';
import { runBadCases, runDeriveCases, type BadCase, type DeriveCase } from './adapter-cases.js';

const adapter = new ImportAdapter();
const JOB = { id: 5521, file_name: 'carrier_a.xlsx', rate_tables_id: 14, error: null };

describe('ImportAdapter', () => {
  it('describes itself', () => {
    assert.equal(adapter.entity, 'import');
    assert.equal(adapter.shape, 'import_job');
    assert.deepEqual(adapter.operations, ['process_success', 'process_failed']);
    assert.deepEqual(adapter.emits, ['importd.process_success', 'importd.process_failed']);
  });

  runDeriveCases(adapter, [
    { name: 'process_success → importd.process_success with data = after', change: { op: 'process_success', after: JOB }, expected: [{ event: 'importd.process_success', objectId: 5521, data: JOB }] },
    {
      name: 'process_failed → importd.process_failed with data = after',
      change: { op: 'process_failed', after: { ...JOB, error: 'Row 118: bad date' } },
      expected: [{ event: 'importd.process_failed', objectId: 5521, data: { ...JOB, error: 'Row 118: bad date' } }],
    },
    {
      name: 'unknown fields are passed through',
      change: { op: 'process_success', after: { ...JOB, rows: 1200, x_task: { id: 3 } } },
      expected: [{ event: 'importd.process_success', objectId: 5521, data: { ...JOB, rows: 1200, x_task: { id: 3 } } }],
    },
    {
      name: 'before, when sent, is only validated',
      change: { op: 'process_success', before: { id: 5521, error: 'x' }, after: JOB },
      expected: [{ event: 'importd.process_success', objectId: 5521, data: JOB }],
    },
  ] satisfies DeriveCase[]);

  describe('bad input', () => {
    runBadCases(adapter, [
      { name: 'unknown op → INVALID_OPERATION', change: { op: 'create', after: JOB }, code: 'INVALID_OPERATION', field: 'op', message: 'process_success, process_failed' },
      { name: 'missing after → VALIDATION_FAILED after', change: { op: 'process_failed' }, code: 'VALIDATION_FAILED', field: 'after', message: 'after is required for process_failed' },
      { name: 'after not an object → VALIDATION_FAILED after', change: { op: 'process_success', after: 'ok' }, code: 'VALIDATION_FAILED', field: 'after' },
      { name: 'after.rate_tables_id a string → DATA_INVALID', change: { op: 'process_success', after: { ...JOB, rate_tables_id: '14' } }, code: 'DATA_INVALID', field: 'after.rate_tables_id' },
      { name: 'after.error a number → DATA_INVALID', change: { op: 'process_failed', after: { ...JOB, error: 500 } }, code: 'DATA_INVALID', field: 'after.error' },
      { name: 'missing after.id → DATA_INVALID after.id', change: { op: 'process_success', after: { file_name: 'a' } }, code: 'DATA_INVALID', field: 'after.id' },
      { name: 'before.id ≠ after.id → DATA_INVALID after.id', change: { op: 'process_success', before: { id: 1 }, after: JOB }, code: 'DATA_INVALID', field: 'after.id' },
    ] satisfies BadCase[]);
  });
});
