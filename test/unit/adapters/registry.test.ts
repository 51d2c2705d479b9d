import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { EVENT_CATALOG } from '../../../src/events/event-catalog.js';
import { findSourceAdapter, SOURCE_ADAPTERS, SOURCE_ENTITIES } from '../../../src/events/adapters/registry.js';
import type { EntityChange } from '../../../src/events/adapters/source-adapter.js';
import { assertWellFormed } from './adapter-cases.js';

const ENTITIES = ['client', 'account', 'subscription', 'did', 'charge', 'payment', 'import', 'rates-email'];

const CLIENT = { id: 12, name: 'Acme', status: 'active', balance: 10, custom_fields: { crm_id: 'A' } };
const ACCOUNT = { id: 31, clients_id: 12, name: 'Trunk', ips: ['203.0.113.10'] };
const SUB = { id: 205, clients_id: 12, status: 'pending' };
const DID = { id: 4471, did: '442071234567', status: 'in_stock', notes: '' };
const CHARGE = { id: 90211, type: 'charge', amount: 49.99 };
const PAYMENT = { id: 90215, type: 'payment', amount: '1000.00' };
const JOB = { id: 5521, file_name: 'a.xlsx', rate_tables_id: 14, error: null };

/** One sample change per catalog event: [event, entity, change]. */
const SAMPLES: readonly [string, string, EntityChange][] = [
  ['clients.create', 'client', { op: 'create', after: CLIENT }],
  ['clients.update', 'client', { op: 'update', before: CLIENT, after: { ...CLIENT, name: 'New' } }],
  ['clients.archive', 'client', { op: 'update', before: CLIENT, after: { ...CLIENT, status: 'archive' } }],
  ['clients.delete', 'client', { op: 'delete', before: CLIENT }],
  ['clients.balance_zero', 'client', { op: 'update', before: CLIENT, after: { ...CLIENT, balance: 0 } }],
  ['clients.balance_notzero', 'client', { op: 'update', before: { ...CLIENT, balance: '-1.00' }, after: CLIENT }],
  ['clients.custom_fields.update', 'client', { op: 'update', before: CLIENT, after: { ...CLIENT, custom_fields: { crm_id: 'B' } } }],
  ['clients.accounts.create', 'account', { op: 'create', after: ACCOUNT }],
  ['clients.accounts.update', 'account', { op: 'update', before: ACCOUNT, after: { ...ACCOUNT, ips: [] } }],
  ['clients.accounts.delete', 'account', { op: 'delete', before: ACCOUNT }],
  ['clients.subscriptions.assign', 'subscription', { op: 'assign', after: SUB }],
  ['clients.subscriptions.activate', 'subscription', { op: 'update', before: SUB, after: { ...SUB, status: 'active' } }],
  ['clients.subscriptions.deactivate', 'subscription', { op: 'update', before: { ...SUB, status: 'active' }, after: SUB }],
  ['clients.subscriptions.renew', 'subscription', { op: 'renew', after: { ...SUB, renew_due: '2027-01-01T00:00:00+00:00' } }],
  ['clients.subscriptions.close', 'subscription', { op: 'update', before: SUB, after: { ...SUB, status: 'archive' } }],
  ['dids.create', 'did', { op: 'create', after: DID }],
  ['dids.update', 'did', { op: 'update', before: DID, after: { ...DID, notes: 'x' } }],
  ['dids.activate', 'did', { op: 'update', before: DID, after: { ...DID, status: 'active' } }],
  ['dids.stock', 'did', { op: 'update', before: { ...DID, status: 'hold' }, after: DID }],
  ['dids.block', 'did', { op: 'update', before: DID, after: { ...DID, status: 'blocked' } }],
  ['dids.reserve', 'did', { op: 'update', before: DID, after: { ...DID, status: 'reserved' } }],
  ['dids.hold', 'did', { op: 'update', before: DID, after: { ...DID, status: 'hold' } }],
  ['dids.archive', 'did', { op: 'update', before: DID, after: { ...DID, status: 'archive' } }],
  ['email_rates_manager.import', 'rates-email', { op: 'import', after: JOB }],
  ['email_rates_manager.rate_tables_no_match', 'rates-email', { op: 'rate_tables_no_match', after: { ...JOB, rate_tables_id: null } }],
  ['email_rates_manager.no_attachments', 'rates-email', { op: 'no_attachments', after: { ...JOB, file_name: null } }],
  ['email_rates_manager.file_processing_error', 'rates-email', { op: 'file_processing_error', after: { ...JOB, error: 'bad' } }],
  ['importd.process_success', 'import', { op: 'process_success', after: JOB }],
  ['importd.process_failed', 'import', { op: 'process_failed', after: { ...JOB, error: 'bad' } }],
  ['accounting.charges.create', 'charge', { op: 'create', after: CHARGE }],
  ['accounting.charges.update', 'charge', { op: 'update', before: CHARGE, after: { ...CHARGE, amount: 39.99 } }],
  ['accounting.charges.delete', 'charge', { op: 'delete', before: CHARGE }],
  ['accounting.payments.create', 'payment', { op: 'create', after: PAYMENT }],
  ['accounting.payments.update', 'payment', { op: 'update', before: PAYMENT, after: { ...PAYMENT, amount: 900 } }],
  ['accounting.payments.delete', 'payment', { op: 'delete', before: PAYMENT }],
];

describe('source adapter registry', () => {
  it('registers the 8 entities, in order, each under its own URL name', () => {
    assert.deepEqual(SOURCE_ENTITIES, ENTITIES);
    assert.deepEqual([...SOURCE_ADAPTERS.keys()], ENTITIES);
    for (const entity of ENTITIES) {
      const adapter = findSourceAdapter(entity);
      assert.ok(adapter, entity);
      assert.equal(adapter.entity, entity);
      assert.equal(SOURCE_ADAPTERS.get(entity), adapter);
    }
  });

  it('finds nothing for other names', () => {
    for (const name of ['', 'clients', 'Client', 'transaction', 'rates_email', 'import_job', '__proto__', 'toString', 'constructor']) {
      assert.equal(findSourceAdapter(name), undefined, name);
    }
  });

  it('the union of the adapters\' emits is exactly the catalog (35 IDs), with no event claimed twice', () => {
    const emitted = [...SOURCE_ADAPTERS.values()].flatMap((a) => a.emits);
    const catalog = EVENT_CATALOG.map((e) => e.id);
    assert.equal(catalog.length, 35);
    assert.equal(new Set(emitted).size, emitted.length, 'no duplicates');
    assert.deepEqual([...emitted].sort(), [...catalog].sort());
  });

  it('every adapter only emits events of its own shape', () => {
    for (const adapter of SOURCE_ADAPTERS.values()) {
      for (const id of adapter.emits) {
        assert.equal(EVENT_CATALOG.find((e) => e.id === id)?.entity, adapter.shape, `${adapter.entity}: ${id}`);
      }
    }
  });

  it('has one sample change per catalog event', () => {
    assert.deepEqual(SAMPLES.map(([e]) => e).sort(), EVENT_CATALOG.map((e) => e.id).sort());
  });

  describe('derive() really emits every catalog event', () => {
    for (const [event, entity, change] of SAMPLES) {
      it(`${entity} ${change.op} → ${event}`, () => {
        const adapter = findSourceAdapter(entity)!;
        assert.ok(adapter.emits.includes(event));
        const events = adapter.derive(change);
        assert.ok(events.some((e) => e.event === event), `got ${events.map((e) => e.event).join(', ')}`);
        assertWellFormed(adapter, events);
      });
    }
  });
});
