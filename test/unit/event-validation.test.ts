import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateEvent } from '../../src/events/event-validation.js';
import { DomainError } from '../../src/common/errors.js';

const NOW = Date.parse('2026-11-22T10:15:30.250Z');
const MAX_DATA = 65536;

function codeOf(input: unknown, header?: string): string {
  try {
    validateEvent(input, header, NOW, MAX_DATA);
  } catch (error) {
    assert.ok(error instanceof DomainError, String(error));
    return `${error.code} ${[...new Set(error.details.map((detail) => detail.field))].join(',')}`;
  }
  return 'valid';
}

describe('validateEvent', () => {
  it('accepts a plain event and fills dt with now, in whole seconds', () => {
    const event = validateEvent({ event: 'clients.update', object_id: 12, data: { id: 12, name: 'Acme' } }, undefined, NOW, MAX_DATA);
    assert.deepEqual(event, {
      eventType: 'clients.update',
      objectId: 12,
      objectKey: 'client:12',
      dt: '2026-11-22T10:15:30+00:00',
      dataJson: '{"id":12,"name":"Acme"}',
      idempotencyKey: null,
    });
  });

  it('keeps dt, data and the idempotency key as given', () => {
    const event = validateEvent({ event: 'dids.block', object_id: 7, dt: '2026-11-22T10:15:30+02:00', idempotency_key: 'k-1' }, 'k-1', NOW, MAX_DATA);
    assert.equal(event.dt, '2026-11-22T10:15:30+02:00');
    assert.equal(event.dataJson, '{}');
    assert.equal(event.idempotencyKey, 'k-1');
  });

  it('words the same errors for bodies off the common shape', () => {
    const cases: [unknown, string][] = [
      [{ event: 'clients.update', object_id: 1, extra: true }, 'VALIDATION_FAILED extra'],
      [{ event: 'clients.update', object_id: 1.5 }, 'VALIDATION_FAILED object_id'],
      [{ event: 'clients.update', object_id: 0 }, 'VALIDATION_FAILED object_id'],
      [{ event: 'clients.update', object_id: '1' }, 'VALIDATION_FAILED object_id'],
      [{ event: 'clients.update', object_id: Number.MAX_SAFE_INTEGER + 2 }, 'VALIDATION_FAILED object_id'],
      [{ event: 'no.such', object_id: 1 }, 'UNKNOWN_EVENT event'],
      [{ event: '', object_id: 1 }, 'VALIDATION_FAILED event'],
      [{ event: 'clients.update', object_id: 1, data: [] }, 'VALIDATION_FAILED data'],
      // null is not "left out": the document declares data non-nullable (leave it out for {}).
      [{ event: 'clients.update', object_id: 1, data: null }, 'VALIDATION_FAILED data'],
      [{ event: 'clients.update', object_id: 1, dt: null }, 'VALIDATION_FAILED dt'],
      [{ event: 'clients.update', object_id: 1, dt: 5 }, 'VALIDATION_FAILED dt'],
      [{ event: 'clients.update', object_id: 1, dt: 'yesterday' }, 'VALIDATION_FAILED dt'],
      [{ event: 'clients.update', object_id: 1, idempotency_key: '' }, 'VALIDATION_FAILED idempotency_key'],
      // null is a value of the wrong type, refused like '' (the document declares the key non-nullable).
      [{ event: 'clients.update', object_id: 1, idempotency_key: null }, 'VALIDATION_FAILED idempotency_key'],
      [{ event: 'clients.update', object_id: 1, idempotency_key: 'x'.repeat(201) }, 'VALIDATION_FAILED idempotency_key'],
      [{ event: 'clients.update', object_id: 1, idempotency_key: 'ключ-1' }, 'valid'],
      [{ event: 'clients.update', object_id: 1, data: { id: 2 } }, 'DATA_INVALID data.id'],
      [{ event: 'clients.update', object_id: 1, data: { id: 'x' } }, 'DATA_INVALID data.id'],
    ];
    for (const [input, expected] of cases) assert.equal(codeOf(input), expected, JSON.stringify(input));
    assert.equal(codeOf({ event: 'clients.update', object_id: 1, idempotency_key: 'a' }, 'b'), 'IDEMPOTENCY_KEY_INVALID idempotency_key');
  });
});
