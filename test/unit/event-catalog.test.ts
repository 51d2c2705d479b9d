import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  EVENT_CATALOG,
  EVENT_GROUPS,
  findEvent,
  isCatalogEvent,
  sampleEnvelope,
  type EventDefinition,
} from '../../src/events/event-catalog.js';

/** The vendor's event table, written out literally, in table order. */
const EXPECTED_IDS: readonly string[] = [
  'clients.create',
  'clients.update',
  'clients.archive',
  'clients.delete',
  'clients.balance_zero',
  'clients.balance_notzero',
  'clients.custom_fields.update',
  'clients.accounts.create',
  'clients.accounts.update',
  'clients.accounts.delete',
  'clients.subscriptions.assign',
  'clients.subscriptions.activate',
  'clients.subscriptions.deactivate',
  'clients.subscriptions.renew',
  'clients.subscriptions.close',
  'dids.create',
  'dids.update',
  'dids.activate',
  'dids.stock',
  'dids.block',
  'dids.reserve',
  'dids.hold',
  'dids.archive',
  'email_rates_manager.import',
  'email_rates_manager.rate_tables_no_match',
  'email_rates_manager.no_attachments',
  'email_rates_manager.file_processing_error',
  'importd.process_success',
  'importd.process_failed',
  'accounting.charges.create',
  'accounting.charges.update',
  'accounting.charges.delete',
  'accounting.payments.create',
  'accounting.payments.update',
  'accounting.payments.delete',
];

const EXPECTED_GROUPS: readonly string[] = [
  'Clients',
  'Accounts',
  'Subscriptions',
  'DIDs',
  'Email Rates Manager',
  'Import Manager',
  'Charges',
  'Payments',
];

const EMPTY_DATA_IDS: readonly string[] = [
  'clients.archive',
  'clients.delete',
  'clients.balance_zero',
  'clients.balance_notzero',
  'clients.accounts.delete',
  'dids.archive',
  'accounting.charges.delete',
  'accounting.payments.delete',
];

const DID_STATUS_BY_EVENT: Readonly<Record<string, string>> = {
  'dids.activate': 'active',
  'dids.stock': 'in_stock',
  'dids.block': 'blocked',
  'dids.reserve': 'reserved',
  'dids.hold': 'hold',
};

function mustFind(id: string): EventDefinition {
  const def = findEvent(id);
  assert.ok(def, `catalog has no event ${id}`);
  return def;
}

describe('event catalog', () => {
  it('serves exactly the 35 event IDs of the vendor table, in table order', () => {
    assert.equal(EXPECTED_IDS.length, 35);
    assert.deepEqual(
      EVENT_CATALOG.map((e) => e.id),
      EXPECTED_IDS,
    );
  });

  it('has unique IDs', () => {
    const ids = EVENT_CATALOG.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('lists the groups in table order, each used and each event in a known group', () => {
    assert.deepEqual([...EVENT_GROUPS], EXPECTED_GROUPS);
    for (const e of EVENT_CATALOG) {
      assert.ok(EVENT_GROUPS.includes(e.group), `${e.id}: unknown group ${e.group}`);
    }
    for (const g of EVENT_GROUPS) {
      assert.ok(
        EVENT_CATALOG.some((e) => e.group === g),
        `group ${g} has no events`,
      );
    }
    // Groups appear contiguously and in EVENT_GROUPS order.
    const order = EVENT_CATALOG.map((e) => EVENT_GROUPS.indexOf(e.group));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  it('counts events per group as in the vendor table', () => {
    const counts = new Map<string, number>();
    for (const e of EVENT_CATALOG) counts.set(e.group, (counts.get(e.group) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(counts), {
      Clients: 7,
      Accounts: 3,
      Subscriptions: 5,
      DIDs: 8,
      'Email Rates Manager': 4,
      'Import Manager': 2,
      Charges: 3,
      Payments: 3,
    });
  });

  it('gives every event a non-empty one-line description and a matching entity', () => {
    for (const e of EVENT_CATALOG) {
      assert.equal(typeof e.description, 'string');
      assert.ok(e.description.trim().length > 0, `${e.id}: empty description`);
      assert.ok(!e.description.includes('\n'), `${e.id}: multi-line description`);
    }
    assert.equal(mustFind('clients.update').entity, 'client');
    assert.equal(mustFind('clients.accounts.create').entity, 'account');
    assert.equal(mustFind('clients.subscriptions.renew').entity, 'subscription');
    assert.equal(mustFind('dids.hold').entity, 'did');
    assert.equal(mustFind('email_rates_manager.no_attachments').entity, 'rates_email');
    assert.equal(mustFind('importd.process_failed').entity, 'import_job');
    assert.equal(mustFind('accounting.charges.create').entity, 'transaction');
    assert.equal(mustFind('accounting.payments.delete').entity, 'transaction');
  });

  it('finds events by ID and rejects unknown IDs', () => {
    for (const id of EXPECTED_IDS) {
      const def = findEvent(id);
      assert.ok(def, id);
      assert.equal(def.id, id);
      assert.equal(isCatalogEvent(id), true);
    }
    for (const unknown of ['', 'clients', 'clients.*', '*', 'clients.Create', 'clients.create ', 'dids.delete']) {
      assert.equal(findEvent(unknown), undefined, unknown);
      assert.equal(isCatalogEvent(unknown), false, unknown);
    }
  });
});

describe('sample envelopes', () => {
  it('have exactly event{dt,events_id,object_id} and data', () => {
    for (const def of EVENT_CATALOG) {
      const env = sampleEnvelope(def);
      assert.deepEqual(Object.keys(env).sort(), ['data', 'event']);
      assert.deepEqual(Object.keys(env.event).sort(), ['dt', 'events_id', 'object_id']);
      assert.equal(env.event.events_id, def.id);
      assert.equal(env.event.dt, '2026-11-22T10:15:30+00:00');
      assert.ok(Number.isInteger(env.event.object_id), `${def.id}: object_id not an integer`);
      assert.ok(env.event.object_id > 0, `${def.id}: object_id not positive`);
      assert.equal(env.event.object_id, def.sampleObjectId);
      assert.equal(typeof env.data, 'object');
      assert.ok(env.data !== null && !Array.isArray(env.data));
      assert.deepEqual(env.data, def.sampleData);
    }
  });

  it('uses the given dt and does not share data with the catalog', () => {
    const def = mustFind('clients.create');
    const env = sampleEnvelope(def, '2027-01-02T03:04:05+02:00');
    assert.equal(env.event.dt, '2027-01-02T03:04:05+02:00');
    env.data['name'] = 'mutated';
    assert.notEqual(def.sampleData['name'], 'mutated');
  });

  it('has object_id equal to data.id whenever data has an id', () => {
    for (const def of EVENT_CATALOG) {
      const id = def.sampleData['id'];
      if (id !== undefined) {
        assert.ok(typeof id === 'number' && Number.isInteger(id), `${def.id}: data.id not an integer`);
        assert.equal(sampleEnvelope(def).event.object_id, id, def.id);
      }
    }
  });

  it('matches the vendor example for clients.update', () => {
    assert.deepEqual(sampleEnvelope(mustFind('clients.update')), {
      event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.update', object_id: 12 },
      data: { id: 12, name: 'My changed name' },
    });
  });

  it('carries id and custom_fields for clients.custom_fields.update', () => {
    const data = mustFind('clients.custom_fields.update').sampleData;
    assert.deepEqual(Object.keys(data).sort(), ['custom_fields', 'id']);
    const cf = data['custom_fields'];
    assert.ok(typeof cf === 'object' && cf !== null && !Array.isArray(cf));
  });

  it('carries {} for delete, archive and balance events', () => {
    const derived = EXPECTED_IDS.filter((id) => /\.(delete|archive|balance_zero|balance_notzero)$/.test(id));
    assert.deepEqual([...derived].sort(), [...EMPTY_DATA_IDS].sort());
    for (const id of EMPTY_DATA_IDS) {
      assert.deepEqual(mustFind(id).sampleData, {}, id);
      assert.deepEqual(sampleEnvelope(mustFind(id)).data, {}, id);
    }
    for (const def of EVENT_CATALOG) {
      if (!EMPTY_DATA_IDS.includes(def.id)) {
        assert.ok(Object.keys(def.sampleData).length > 0, `${def.id}: unexpected empty data`);
      }
    }
  });

  it('shows the matching status in DID status events', () => {
    const allowed = ['in_stock', 'reserved', 'active', 'blocked', 'hold', 'archive'];
    for (const [id, status] of Object.entries(DID_STATUS_BY_EVENT)) {
      assert.equal(mustFind(id).sampleData['status'], status, id);
    }
    for (const def of EVENT_CATALOG.filter((e) => e.entity === 'did')) {
      const status = def.sampleData['status'];
      if (status !== undefined) {
        assert.ok(typeof status === 'string' && allowed.includes(status), `${def.id}: bad status`);
        assert.equal(typeof def.sampleData['did'], 'string', `${def.id}: did number`);
      }
    }
  });

  it('gives charges type "charge" and payments type "payment"', () => {
    const charges = EVENT_CATALOG.filter((e) => e.id.startsWith('accounting.charges.'));
    const payments = EVENT_CATALOG.filter((e) => e.id.startsWith('accounting.payments.'));
    assert.equal(charges.length, 3);
    assert.equal(payments.length, 3);
    for (const def of charges) {
      assert.equal(def.group, 'Charges');
      if (!def.id.endsWith('.delete')) assert.equal(def.sampleData['type'], 'charge', def.id);
    }
    for (const def of payments) {
      assert.equal(def.group, 'Payments');
      if (!def.id.endsWith('.delete')) assert.equal(def.sampleData['type'], 'payment', def.id);
    }
  });

  it('uses ISO 8601 timestamps with offset in *_dt, dt and renew_due fields', () => {
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$/;
    for (const def of EVENT_CATALOG) {
      for (const [key, value] of Object.entries(def.sampleData)) {
        if (key === 'dt' || key.endsWith('_dt') || key === 'renew_due') {
          assert.ok(typeof value === 'string' && iso.test(value), `${def.id}.${key}: ${String(value)}`);
        }
      }
    }
  });
});
