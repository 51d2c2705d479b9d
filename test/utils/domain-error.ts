import assert from 'node:assert/strict';
import { DomainError, type ErrorCode } from '../../src/common/errors.js';

/** Runs `fn`, asserts it throws a DomainError with `code` whose first detail names `field`; returns it. */
export function expectDomainError(fn: () => unknown, code: ErrorCode, field = 'task'): DomainError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DomainError, `expected a DomainError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.statusCode, 400);
  assert.equal(caught.details.length, 1);
  assert.equal(caught.details[0]?.field, field);
  assert.ok(caught.details[0]!.message.length > 0);
  return caught;
}
