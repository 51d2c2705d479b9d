import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  ALL_EVENTS,
  EVENT_CATALOG,
  findEvent,
  isCatalogEvent,
  isOperationalEvent,
  OPERATIONAL_CAUSES,
  OPERATIONAL_EVENTS,
  OPERATIONAL_GROUP,
  sampleEnvelope,
} from '../../src/events/event-catalog.js';
import { validateEntityData } from '../../src/events/entity-shapes.js';
import { eventDataSchema, eventSchemaComponents } from '../../src/events/event-schemas.js';
import { expandEventPattern, isValidEventPattern, matchesEvent } from '../../src/events/event-patterns.js';
import { validateEvent } from '../../src/events/event-validation.js';
import { objectKey } from '../../src/events/envelope.js';
import { DomainError } from '../../src/common/errors.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';

/** The service's own events, written out literally, in catalog order. */
const OPERATIONAL_IDS = [
  'provisioning.handler.circuit_opened',
  'provisioning.handler.circuit_closed',
  'provisioning.handler.paused',
  'provisioning.handler.resumed',
  'provisioning.handler.disabled',
  'provisioning.delivery.exhausted',
];

describe('operational events in the catalog', () => {
  it('are the six provisioning.* events, in the Provisioning group, after the 35 of the vendor table', () => {
    assert.deepEqual(OPERATIONAL_EVENTS.map((e) => e.id), OPERATIONAL_IDS);
    assert.deepEqual(Object.keys(OPERATIONAL_CAUSES), OPERATIONAL_IDS);
    assert.equal(OPERATIONAL_GROUP, 'Provisioning');
    for (const e of OPERATIONAL_EVENTS) assert.equal(e.group, 'Provisioning', e.id);
    assert.equal(EVENT_CATALOG.length, 35);
    assert.deepEqual(ALL_EVENTS.map((e) => e.id), [...EVENT_CATALOG.map((e) => e.id), ...OPERATIONAL_IDS]);
  });

  it('are found by ID, and only they are operational', () => {
    for (const id of OPERATIONAL_IDS) {
      assert.equal(findEvent(id)?.id, id);
      assert.equal(isCatalogEvent(id), true, id);
      assert.equal(isOperationalEvent(id), true, id);
    }
    for (const e of EVENT_CATALOG) assert.equal(isOperationalEvent(e.id), false, e.id);
    for (const id of ['provisioning.*', 'provisioning.handler.enabled', 'provisioning', '']) assert.equal(isOperationalEvent(id), false, id);
  });

  it('are about a handler (object_id its id) or, for exhausted, a delivery', () => {
    for (const e of OPERATIONAL_EVENTS) {
      assert.equal(e.entity, e.id === 'provisioning.delivery.exhausted' ? 'delivery' : 'handler', e.id);
      assert.equal(sampleEnvelope(e).event.object_id, e.sampleData['id'], e.id);
      assert.ok(!e.description.includes('\n') && e.description.length > 0, e.id);
    }
    // Their own objects: handler 7 and delivery 7 are not ordered behind each other, nor behind a client 7.
    assert.equal(objectKey('provisioning.handler.disabled', 7), 'handler:7');
    assert.equal(objectKey('provisioning.handler.paused', 7), 'handler:7');
    assert.equal(objectKey('provisioning.delivery.exhausted', 7), 'delivery:7');
  });

  it('have samples that fit their shape and their exact data schema, with a cause the event may give', () => {
    for (const e of OPERATIONAL_EVENTS) {
      assert.deepEqual(validateEntityData(e.entity, e.sampleData), [], e.id);
      const schema = eventDataSchema(e) as { required: string[]; additionalProperties: boolean; properties: Record<string, { enum?: string[]; nullable?: boolean }> };
      assert.equal(schema.additionalProperties, false, e.id);
      assert.deepEqual([...schema.required].sort(), Object.keys(e.sampleData).sort(), `${e.id}: every field present, no other`);
      const causes = OPERATIONAL_CAUSES[e.id as keyof typeof OPERATIONAL_CAUSES] as readonly string[];
      assert.deepEqual(schema.properties['cause']?.enum, [...causes], e.id);
      assert.ok(causes.includes(String(e.sampleData['cause'])), e.id);
      for (const [field, value] of Object.entries(e.sampleData)) {
        if (value === null) assert.equal(schema.properties[field]?.nullable, true, `${e.id}.${field} is null in the sample`);
      }
    }
    const components = eventSchemaComponents();
    for (const id of OPERATIONAL_IDS) assert.deepEqual(components[`EventData.${id}`], eventDataSchema(findEvent(id)!), id);
  });

  it('carry no secret-like field', () => {
    for (const e of OPERATIONAL_EVENTS) {
      for (const field of Object.keys(e.sampleData)) assert.doesNotMatch(field, /secret|header|task|url|key|password|token/i, `${e.id}.${field}`);
    }
  });
});

describe('patterns and operational events', () => {
  it('* covers the 35 business events and no operational one', () => {
    assert.deepEqual(expandEventPattern('*'), EVENT_CATALOG.map((e) => e.id));
    for (const id of OPERATIONAL_IDS) assert.equal(matchesEvent('*', id), false, id);
  });

  it('provisioning.* covers the six; provisioning.handler.* the five about handlers; provisioning.delivery.* the one', () => {
    assert.deepEqual(expandEventPattern('provisioning.*'), OPERATIONAL_IDS);
    assert.deepEqual(expandEventPattern('provisioning.handler.*'), OPERATIONAL_IDS.slice(0, 5));
    assert.deepEqual(expandEventPattern('provisioning.delivery.*'), ['provisioning.delivery.exhausted']);
    for (const pattern of ['provisioning.*', 'provisioning.handler.*', 'provisioning.delivery.*', ...OPERATIONAL_IDS]) {
      assert.equal(isValidEventPattern(pattern), true, pattern);
    }
    for (const pattern of ['provisioning.queue.*', 'provisioning.handler.enabled', 'provisioning', 'provisioning.handler.disabled.*']) {
      assert.equal(isValidEventPattern(pattern), false, pattern);
    }
  });
});

describe('posting operational events', () => {
  const refusal = (input: unknown): DomainError => {
    try {
      validateEvent(input, undefined, Date.now(), 65536);
    } catch (error) {
      assert.ok(error instanceof DomainError, String(error));
      return error;
    }
    assert.fail(`${JSON.stringify(input)} was accepted`);
  };

  it('is refused with 403 EVENT_RESERVED naming the event, even with data that fits', () => {
    for (const e of OPERATIONAL_EVENTS) {
      const error = refusal({ event: e.id, object_id: e.sampleObjectId, data: e.sampleData });
      assert.equal(error.code, 'EVENT_RESERVED', e.id);
      assert.equal(error.statusCode, 403);
      assert.deepEqual(error.details.map((d) => d.field), ['event']);
      // Without data, and through class-validator's path (an unknown top-level field) too.
      assert.equal(refusal({ event: e.id, object_id: 1 }).code, 'EVENT_RESERVED');
      assert.equal(refusal({ event: e.id, object_id: 1, idempotency_key: 'k-1' }).code, 'EVENT_RESERVED');
    }
  });

  it('leaves business events and unknown IDs as they were', () => {
    assert.equal(validateEvent({ event: 'clients.update', object_id: 12, data: { id: 12 } }, undefined, Date.now(), 65536).eventType, 'clients.update');
    assert.equal(refusal({ event: 'provisioning.handler.enabled', object_id: 1 }).code, 'UNKNOWN_EVENT');
  });
});

describe('provisioning_operational_events_total', () => {
  it('has every series of every event, cause and result from the start, at 0', async () => {
    const page = await new MetricsService().scrape();
    for (const [type, causes] of Object.entries(OPERATIONAL_CAUSES)) {
      for (const cause of causes) {
        for (const result of ['emitted', 'failed', 'suppressed']) {
          assert.ok(page.includes(`provisioning_operational_events_total{type="${type}",cause="${cause}",result="${result}"} 0\n`), `${type} ${cause} ${result}`);
        }
      }
    }
  });
});
