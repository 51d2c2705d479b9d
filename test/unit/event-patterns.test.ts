import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { EVENT_CATALOG } from '../../src/events/event-catalog.js';
import { expandEventPattern, isValidEventPattern, matchesEvent } from '../../src/events/event-patterns.js';

const ALL_IDS = EVENT_CATALOG.map((event) => event.id);

describe('isValidEventPattern', () => {
  it('accepts every catalog id', () => {
    assert.equal(ALL_IDS.length, 35);
    for (const id of ALL_IDS) assert.equal(isValidEventPattern(id), true, id);
  });

  it('accepts *', () => {
    assert.equal(isValidEventPattern('*'), true);
  });

  for (const pattern of ['clients.*', 'clients.accounts.*', 'clients.subscriptions.*', 'dids.*', 'accounting.*', 'accounting.charges.*']) {
    it(`accepts the group wildcard ${pattern}`, () => {
      assert.equal(isValidEventPattern(pattern), true);
    });
  }

  const invalid = [
    'foo.*',
    'clients.',
    'clients.**',
    '*.create',
    'Clients.create',
    'Clients.*',
    '',
    'clients.create.*',
    'clients',
    '.*',
    'clients.*.create',
    ' clients.create',
    'clients.create ',
    'unknown.event',
  ];
  for (const pattern of invalid) {
    it(`rejects ${JSON.stringify(pattern)}`, () => {
      assert.equal(isValidEventPattern(pattern), false);
    });
  }
});

describe('matchesEvent / expandEventPattern', () => {
  it('* matches all 35 events', () => {
    assert.deepEqual(expandEventPattern('*'), ALL_IDS);
    assert.equal(expandEventPattern('*').length, 35);
    for (const id of ALL_IDS) assert.equal(matchesEvent('*', id), true);
  });

  it('clients.* matches at every depth below clients, but not dids', () => {
    assert.equal(matchesEvent('clients.*', 'clients.update'), true);
    assert.equal(matchesEvent('clients.*', 'clients.accounts.create'), true);
    assert.equal(matchesEvent('clients.*', 'clients.subscriptions.renew'), true);
    assert.equal(matchesEvent('clients.*', 'clients.custom_fields.update'), true);
    assert.equal(matchesEvent('clients.*', 'dids.create'), false);
    const expanded = expandEventPattern('clients.*');
    assert.equal(expanded.length, 15);
    assert.ok(expanded.every((id) => id.startsWith('clients.')));
  });

  it('clients.accounts.* matches only the 3 account events', () => {
    assert.deepEqual(expandEventPattern('clients.accounts.*'), [
      'clients.accounts.create',
      'clients.accounts.update',
      'clients.accounts.delete',
    ]);
    assert.equal(matchesEvent('clients.accounts.*', 'clients.update'), false);
  });

  it('dids.* matches the 8 DID events', () => {
    assert.deepEqual(expandEventPattern('dids.*'), [
      'dids.create',
      'dids.update',
      'dids.activate',
      'dids.stock',
      'dids.block',
      'dids.reserve',
      'dids.hold',
      'dids.archive',
    ]);
  });

  it('a wildcard does not match a sibling whose name merely starts with the prefix', () => {
    // "clients.*" must not match a hypothetical "clientsX.create"
    assert.equal(matchesEvent('clients.*', 'clientsx.create'), false);
    assert.equal(matchesEvent('accounting.charges.*', 'accounting.payments.create'), false);
  });

  it('an exact id matches only itself', () => {
    assert.equal(matchesEvent('clients.create', 'clients.create'), true);
    assert.equal(matchesEvent('clients.create', 'clients.update'), false);
    assert.deepEqual(expandEventPattern('clients.create'), ['clients.create']);
  });

  it('an unknown pattern expands to nothing', () => {
    assert.deepEqual(expandEventPattern('foo.*'), []);
    assert.deepEqual(expandEventPattern('nope'), []);
  });
});
