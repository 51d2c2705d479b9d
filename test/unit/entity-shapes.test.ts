import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { EVENT_CATALOG, type EntityKind } from '../../src/events/event-catalog.js';
import {
  ENTITY_SHAPES,
  entityJsonSchema,
  validateEntityData,
  validateReplacementData,
  type FieldType,
} from '../../src/events/entity-shapes.js';

const ENTITIES: readonly EntityKind[] = [
  'client',
  'account',
  'subscription',
  'did',
  'transaction',
  'import_job',
  'rates_email',
  'handler',
  'delivery',
];

/** The vendor's CoreAPI entities, then the service's own (the data of its operational events), written out literally. */
const EXPECTED_FIELDS: Readonly<Record<EntityKind, readonly string[]>> = {
  client: [
    'id', 'name', 'companies_id', 'currencies_id', 'status', 'credit', 'balance',
    'c_company', 'c_email_billing', 'tags', 'payment_terms_id', 'custom_fields',
  ],
  account: [
    'id', 'clients_id', 'name', 'auth_type', 'ips', 'ani', 'tech_prefix', 'orig_enabled', 'term_enabled', 'status',
  ],
  subscription: ['id', 'clients_id', 'packages_id', 'status', 'start_dt', 'stop_dt', 'renew_due'],
  did: ['id', 'did', 'status', 'operators_id', 'tag', 'notes', 'clients_id', 'accounts_id'],
  transaction: [
    'id', 'clients_id', 'companies_id', 'currencies_id', 'type', 'amount', 'dt', 'payment_accounts_id', 'notes', 'status',
  ],
  import_job: ['id', 'file_name', 'rate_tables_id', 'error'],
  rates_email: ['id', 'file_name', 'rate_tables_id', 'error'],
  handler: ['id', 'name', 'status', 'cause', 'reason', 'until'],
  delivery: [
    'id', 'event_id', 'event', 'object_id', 'handler_id', 'handler_name', 'attempts', 'last_response_code', 'last_error', 'cause',
  ],
};

/** One field per field type: [entity, field, good values, bad values, expected message]. */
const TYPE_CASES: ReadonlyArray<[EntityKind, string, unknown[], unknown[], string]> = [
  ['client', 'companies_id', [1, 0, -3, Number.MAX_SAFE_INTEGER], ['1', 1.5, NaN, Infinity, true, 2 ** 60, {}], 'must be an integer'],
  [
    'client',
    'balance',
    [0, -12.5, 1250.75, '1250.75', '-0.01', '100'],
    ['12,50', '1e3', '.5', '5.', '', 'abc', NaN, Infinity, true, [], {}],
    'must be a number or a decimal string',
  ],
  ['client', 'name', ['', 'Acme'], [1, true, ['Acme'], {}], 'must be a string'],
  ['account', 'orig_enabled', [true, false], [0, 1, 'true', 'false'], 'must be a boolean'],
  [
    'subscription',
    'start_dt',
    [
      '2026-11-22T10:15:30+00:00',
      '2026-11-22T10:15:30Z',
      '2026-11-22T10:15:30.123Z',
      '2026-11-22T10:15-05:30',
      '2026-11-22',
      '2024-02-29',
    ],
    [
      '2026-11-22T10:15:30',
      '2026-11-22 10:15:30Z',
      '22/11/2026',
      '2026-13-01',
      '2026-02-30',
      '2025-02-29',
      '2026-11-22T25:00:00Z',
      '2026-11-22T10:15:30+0000',
      'yesterday',
      '',
      1795342530000,
    ],
    'must be an ISO 8601 date-time',
  ],
  ['account', 'ips', [[], ['203.0.113.10', '203.0.113.11']], ['203.0.113.10', [1], ['a', null], {}], 'must be an array of strings'],
  ['client', 'custom_fields', [{}, { a: 'x', b: 1, c: true, d: null }], ['x', [], ['a'], 5, true], 'must be a JSON object'],
  [
    'client',
    'status',
    ['active', 'suspended', 'archive'],
    ['Active', 'deleted', '', 1, ['active']],
    'must be one of: active, suspended, archive',
  ],
];

describe('entity shapes', () => {
  describe('ENTITY_SHAPES', () => {
    for (const entity of ENTITIES) {
      it(`${entity}: has exactly the vendor's fields`, () => {
        assert.equal(ENTITY_SHAPES[entity].entity, entity);
        assert.deepEqual(Object.keys(ENTITY_SHAPES[entity].fields).sort(), [...EXPECTED_FIELDS[entity]].sort());
      });
    }

    it('is frozen', () => {
      assert.ok(Object.isFrozen(ENTITY_SHAPES));
      assert.ok(Object.isFrozen(ENTITY_SHAPES.client.fields));
    });

    it('uses the vendor enums', () => {
      const enumOf = (t: FieldType | undefined): readonly string[] | undefined =>
        typeof t === 'object' ? t.enum : undefined;
      assert.deepEqual(enumOf(ENTITY_SHAPES.client.fields['status']), ['active', 'suspended', 'archive']);
      assert.deepEqual(enumOf(ENTITY_SHAPES.subscription.fields['status']), ['active', 'pending', 'archive']);
      assert.deepEqual(enumOf(ENTITY_SHAPES.did.fields['status']), [
        'in_stock', 'reserved', 'active', 'blocked', 'hold', 'archive',
      ]);
      assert.deepEqual(enumOf(ENTITY_SHAPES.transaction.fields['type']), ['charge', 'payment']);
      assert.deepEqual(enumOf(ENTITY_SHAPES.transaction.fields['status']), ['pending', 'approved']);
      assert.equal(ENTITY_SHAPES.account.fields['status'], 'string');
    });
  });

  describe('catalog samples', () => {
    for (const def of EVENT_CATALOG) {
      it(`${def.id}: sampleData is a valid ${def.entity}`, () => {
        assert.deepEqual(validateEntityData(def.entity, def.sampleData), []);
      });
    }
  });

  describe('field types', () => {
    for (const [entity, field, good, bad, message] of TYPE_CASES) {
      const type = ENTITY_SHAPES[entity].fields[field];
      const label = typeof type === 'object' ? 'enum' : String(type);

      it(`${label} (${entity}.${field}): accepts good values`, () => {
        for (const value of good) {
          assert.deepEqual(validateEntityData(entity, { [field]: value }), [], `${JSON.stringify(value)} should pass`);
        }
      });

      it(`${label} (${entity}.${field}): rejects bad values`, () => {
        for (const value of bad) {
          assert.deepEqual(
            validateEntityData(entity, { [field]: value }),
            [{ field: `data.${field}`, message }],
            `${String(value)} should fail`,
          );
        }
      });
    }

    it('object: reports non-scalar custom_fields values per key', () => {
      assert.deepEqual(
        validateEntityData('client', { custom_fields: { ok: 'x', nested: { a: 1 }, list: [1], n: NaN } }),
        [
          { field: 'data.custom_fields.nested', message: 'must be a string, number, boolean or null' },
          { field: 'data.custom_fields.list', message: 'must be a string, number, boolean or null' },
          { field: 'data.custom_fields.n', message: 'must be a string, number, boolean or null' },
        ],
      );
    });
  });

  describe('id', () => {
    it('accepts a positive integer', () => {
      assert.deepEqual(validateEntityData('did', { id: 1 }), []);
    });

    for (const bad of [null, 0, -1, 1.5, '12', true, Number.MAX_SAFE_INTEGER + 1]) {
      it(`rejects ${String(bad)}`, () => {
        assert.deepEqual(validateEntityData('did', { id: bad }), [
          { field: 'data.id', message: 'must be a positive integer' },
        ]);
      });
    }
  });

  describe('null and absence', () => {
    for (const entity of ENTITIES) {
      it(`${entity}: null is accepted for every known field except id`, () => {
        const data = Object.fromEntries(EXPECTED_FIELDS[entity].filter((f) => f !== 'id').map((f) => [f, null]));
        assert.deepEqual(validateEntityData(entity, data), []);
      });

      it(`${entity}: an empty object is valid`, () => {
        assert.deepEqual(validateEntityData(entity, {}), []);
      });
    }
  });

  describe('pass-through', () => {
    it('accepts unknown fields of any type and never mutates data', () => {
      const data = {
        id: 12,
        balance: '10.50',
        tags: ['a'],
        custom_fields: { crm_id: 'CRM-1' },
        extra_string: 'x',
        extra_object: { deep: [1, { x: null }] },
        extra_null: null,
        status: 'suspended',
      };
      const before = structuredClone(data);
      assert.deepEqual(validateEntityData('client', data), []);
      assert.deepEqual(data, before);
    });

    it('does not mutate invalid data either', () => {
      const data = { id: -1, balance: 'lots', tags: 'a', custom_fields: { x: {} }, other: [1] };
      const before = structuredClone(data);
      assert.equal(validateEntityData('client', data).length, 4);
      assert.deepEqual(data, before);
    });

    it('works on frozen data', () => {
      const data = Object.freeze({ id: 5, file_name: 'x.csv', error: null });
      assert.deepEqual(validateEntityData('import_job', data), []);
    });

    it('ignores fields of other entities', () => {
      assert.deepEqual(validateEntityData('did', { amount: 'not a number', type: 'whatever' }), []);
    });
  });

  describe('non-object data', () => {
    for (const data of [null, undefined, 'x', 12, true, [], [{ id: 1 }], new Date()]) {
      it(`rejects ${Array.isArray(data) ? 'an array' : String(data)}`, () => {
        assert.deepEqual(validateEntityData('client', data), [{ field: 'data', message: 'must be a JSON object' }]);
      });
    }

    it('accepts an object without a prototype', () => {
      const data = Object.assign(Object.create(null) as Record<string, unknown>, { id: 1, name: 'x' });
      assert.deepEqual(validateEntityData('client', data), []);
    });
  });

  describe('several problems', () => {
    it('reports every bad field with its path, in shape order', () => {
      const problems = validateEntityData('transaction', {
        id: 0,
        clients_id: '12',
        type: 'refund',
        amount: '12,00',
        dt: '2026-11-22T10:15:30',
        notes: null,
        status: 'approved',
        payment_accounts_id: 4.2,
      });
      assert.deepEqual(problems, [
        { field: 'data.id', message: 'must be a positive integer' },
        { field: 'data.clients_id', message: 'must be an integer' },
        { field: 'data.type', message: 'must be one of: charge, payment' },
        { field: 'data.amount', message: 'must be a number or a decimal string' },
        { field: 'data.dt', message: 'must be an ISO 8601 date-time' },
        { field: 'data.payment_accounts_id', message: 'must be an integer' },
      ]);
    });
  });

  describe('prefix', () => {
    it('prefixes field paths', () => {
      assert.deepEqual(validateEntityData('account', { term_enabled: 1, ips: [1] }, 'body.data'), [
        { field: 'body.data.ips', message: 'must be an array of strings' },
        { field: 'body.data.term_enabled', message: 'must be a boolean' },
      ]);
    });

    it('is used for non-object data and nested custom_fields keys', () => {
      assert.deepEqual(validateEntityData('client', 'x', 'payload'), [{ field: 'payload', message: 'must be a JSON object' }]);
      assert.deepEqual(validateEntityData('client', { custom_fields: { a: [] } }, 'p'), [
        { field: 'p.custom_fields.a', message: 'must be a string, number, boolean or null' },
      ]);
    });
  });

  describe('entityJsonSchema', () => {
    for (const entity of ENTITIES) {
      it(`${entity}: lists every field, additionalProperties true`, () => {
        const schema = entityJsonSchema(entity);
        assert.equal(schema['type'], 'object');
        assert.equal(schema['additionalProperties'], true);
        const properties = schema['properties'] as Record<string, Record<string, unknown>>;
        assert.deepEqual(Object.keys(properties).sort(), [...EXPECTED_FIELDS[entity]].sort());
        assert.deepEqual(properties['id'], { type: 'integer', minimum: 1 });
        for (const [name, prop] of Object.entries(properties)) {
          if (name !== 'id') assert.equal(prop['nullable'], true, `${entity}.${name} nullable`);
        }
      });
    }

    it('describes types, formats and enums', () => {
      const client = entityJsonSchema('client')['properties'] as Record<string, Record<string, unknown>>;
      assert.deepEqual(client['status'], { type: 'string', enum: ['active', 'suspended', 'archive'], nullable: true });
      assert.deepEqual(client['tags'], { type: 'array', items: { type: 'string' }, nullable: true });
      assert.equal(client['companies_id']?.['type'], 'integer');
      assert.equal(client['name']?.['type'], 'string');
      assert.equal(client['custom_fields']?.['type'], 'object');
      assert.ok(Array.isArray(client['balance']?.['oneOf']));
      const account = entityJsonSchema('account')['properties'] as Record<string, Record<string, unknown>>;
      assert.equal(account['orig_enabled']?.['type'], 'boolean');
      const sub = entityJsonSchema('subscription')['properties'] as Record<string, Record<string, unknown>>;
      assert.deepEqual(sub['start_dt'], { type: 'string', format: 'date-time', nullable: true });
    });

    it('returns a fresh object each call', () => {
      const a = entityJsonSchema('did');
      (a['properties'] as Record<string, unknown>)['id'] = 'changed';
      assert.deepEqual((entityJsonSchema('did')['properties'] as Record<string, unknown>)['id'], {
        type: 'integer',
        minimum: 1,
      });
    });
  });
});

describe('validateReplacementData (data a before handler answers in place of the event\'s)', () => {
  const event = (id: string) => EVENT_CATALOG.find((e) => e.id === id)!;
  const did = event('dids.update');
  const current = { id: 4471, did: '442000000001', status: 'active' };

  it('accepts the same entity changed in its known fields', () => {
    assert.deepEqual(validateReplacementData(did, { ...current, notes: 'checked', status: 'hold' }, current, 4471), []);
  });

  it('refuses {"balance": "x"} on a DID: no id, and a field the DID shape does not have', () => {
    const problems = validateReplacementData(did, { balance: 'x' }, current, 4471);
    assert.deepEqual(problems.map((p) => p.field).sort(), ['data.balance', 'data.id']);
  });

  it('refuses another object\'s id', () => {
    assert.deepEqual(validateReplacementData(did, { ...current, id: 4472 }, current, 4471).map((p) => p.field), ['data.id']);
  });

  it('keeps unknown fields the handler was sent, refuses new ones', () => {
    const withExtra = { ...current, vendor_ref: 'A1' };
    assert.deepEqual(validateReplacementData(did, { ...withExtra, notes: 'x' }, withExtra, 4471), []);
    assert.deepEqual(validateReplacementData(did, { ...current, other_ref: 'B2' }, current, 4471).map((p) => p.field), ['data.other_ref']);
  });

  it('checks the types of known fields as validateEntityData does', () => {
    assert.deepEqual(validateReplacementData(event('clients.update'), { id: 12, balance: 'x' }, { id: 12 }, 12).map((p) => p.field), ['data.balance']);
  });

  it('on events whose data is {} (deletes, archives), id is optional but must match when given', () => {
    const archive = event('dids.archive');
    assert.deepEqual(validateReplacementData(archive, {}, {}, 4471), []);
    assert.deepEqual(validateReplacementData(archive, { id: 4471 }, {}, 4471), []);
    assert.deepEqual(validateReplacementData(archive, { id: 1 }, {}, 4471).map((p) => p.field), ['data.id']);
    assert.deepEqual(validateReplacementData(archive, { balance: 'x' }, {}, 4471).map((p) => p.field), ['data.balance']);
  });

  it('requires the id for every event whose data carries the entity, and for no other', () => {
    for (const definition of EVENT_CATALOG) {
      const carries = Object.keys(definition.sampleData).length > 0;
      const problems = validateReplacementData(definition, {}, {}, definition.sampleObjectId);
      assert.deepEqual(problems.map((p) => p.field), carries ? ['data.id'] : [], definition.id);
    }
  });
});
