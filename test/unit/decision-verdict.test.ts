import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readVerdict } from '../../src/decisions/decision.service.js';

describe('readVerdict (a before handler\'s 2xx answer)', () => {
  const cases: [string, string | null, unknown][] = [
    ['no body allows', null, { kind: 'allow' }],
    ['an empty body allows', '  ', { kind: 'allow' }],
    ['text that is not JSON allows', 'OK', { kind: 'allow' }],
    ['a JSON array allows', '[1]', { kind: 'allow' }],
    ['allow: true allows', '{"allow": true}', { kind: 'allow' }],
    ['allow: false forbids with the reason', '{"allow": false, "reason": "credit limit"}', { kind: 'forbid', reason: 'credit limit' }],
    ['allow: false without a reason forbids with a default one', '{"allow": false}', { kind: 'forbid', reason: 'forbidden by handler' }],
    ['"false" as a string does not forbid', '{"allow": "false"}', { kind: 'allow' }],
    ['data replaces the data', '{"data": {"name": "x"}}', { kind: 'modify', data: { name: 'x' } }],
    ['data that is not an object is a failure', '{"data": [1]}', { kind: 'fail', error: 'answered "data" that is not a JSON object' }],
    ['forbid wins over data', '{"allow": false, "reason": "no", "data": {"a": 1}}', { kind: 'forbid', reason: 'no' }],
    ['data: null is a failure', '{"data": null}', { kind: 'fail', error: 'answered "data" that is not a JSON object' }],
    [
      'the vendor example (an echo of the envelope) keeps the data as it was',
      '{"event": {"events_id": "clients.create"}, "data": {"id": 1, "name": "x"}}',
      { kind: 'modify', data: { id: 1, name: 'x' } },
    ],
  ];
  for (const [label, body, expected] of cases) {
    it(label, () => assert.deepEqual(readVerdict(body), expected));
  }
});
