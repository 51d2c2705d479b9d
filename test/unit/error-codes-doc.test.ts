import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_STATUS } from '../../src/common/errors.js';
import { documentedErrorCodes } from '../utils/error-codes.js';

/**
 * docs/errors.md says it lists every code of src/common/errors.ts with its status; clients
 * branch on these codes, so a code added, removed or re-statused in one place and not the
 * other is a documentation bug this test catches.
 */
const documentedCodes = () => documentedErrorCodes();

describe('docs/errors.md and ERROR_STATUS', () => {
  it('finds the table (so an empty parse cannot pass)', () => {
    assert.ok(documentedCodes().size >= 10, 'docs/errors.md: no code table found');
  });

  it('list the same codes', () => {
    const documented = [...documentedCodes().keys()].sort();
    const defined = Object.keys(ERROR_STATUS).sort();
    assert.deepEqual(
      { missingFromDoc: defined.filter((c) => !documented.includes(c)), notInErrorsTs: documented.filter((c) => !defined.includes(c)) },
      { missingFromDoc: [], notInErrorsTs: [] },
    );
  });

  it('give each code the same status', () => {
    const documented = documentedCodes();
    const differing = Object.entries(ERROR_STATUS)
      .filter(([code, status]) => documented.has(code) && documented.get(code) !== status)
      .map(([code, status]) => `${code}: errors.ts ${status}, docs ${documented.get(code)}`);
    assert.deepEqual(differing, []);
  });
});
