import { EntityKind, EVENT_CATALOG, EventDefinition, isOperationalEvent, OPERATIONAL_CAUSES, OPERATIONAL_EVENTS } from './event-catalog.js';
import { ENTITY_SHAPES, entityJsonSchema, FieldType } from './entity-shapes.js';

const ENTITIES: EntityKind[] = ['client', 'account', 'subscription', 'did', 'transaction', 'import_job', 'rates_email'];

/** Delete, archive and balance events carry {} unless the source sends more (the vendor's payload envelope). */
export function carriesEmptyData(event: EventDefinition): boolean {
  return Object.keys(event.sampleData).length === 0;
}

/** The fields of operational event data that may be null (a reason or end the change has none of, a delivery nothing answered). */
const NULLABLE_OPERATIONAL_FIELDS = new Set(['reason', 'until', 'last_response_code', 'last_error']);

function operationalFieldSchema(event: EventDefinition, name: string, type: FieldType): Record<string, unknown> {
  if (name === 'cause') return { type: 'string', enum: [...OPERATIONAL_CAUSES[event.id as keyof typeof OPERATIONAL_CAUSES]] };
  const base: Record<string, unknown> = type === 'datetime' ? { type: 'string', format: 'date-time' } : { type };
  if (name === 'id') base.minimum = 1;
  return NULLABLE_OPERATIONAL_FIELDS.has(name) ? { ...base, nullable: true } : base;
}

/**
 * The data of an operational event, exactly: the service builds it, so every field is present
 * and there are no others (unlike CoreAPI data, where every field is optional and unknown ones pass).
 */
function operationalDataSchema(event: EventDefinition): Record<string, unknown> {
  const fields = Object.entries(ENTITY_SHAPES[event.entity].fields);
  return {
    type: 'object',
    description: `data of ${event.id}: ${event.description}`,
    properties: Object.fromEntries(fields.map(([name, type]) => [name, operationalFieldSchema(event, name, type)])),
    required: fields.map(([name]) => name),
    additionalProperties: false,
  };
}

/** JSON schema of an event's `data`. */
export function eventDataSchema(event: EventDefinition): Record<string, unknown> {
  if (isOperationalEvent(event.id)) return operationalDataSchema(event);
  if (carriesEmptyData(event)) {
    return { type: 'object', additionalProperties: true, description: 'Empty ({}) unless the source sends more' };
  }
  const schema = entityJsonSchema(event.entity);
  if (event.id.endsWith('.update') && event.entity !== 'did') {
    return { ...schema, description: `${event.entity} in CoreAPI shape: id plus the fields that changed` };
  }
  return schema;
}

/**
 * OpenAPI components for the CoreAPI entity shapes (`CoreApi.<entity>`) and for the `data`
 * of every catalog event, operational ones included (`EventData.<event id>`), added to the
 * generated document.
 */
export function eventSchemaComponents(): Record<string, Record<string, unknown>> {
  const components: Record<string, Record<string, unknown>> = {};
  for (const entity of ENTITIES) components[`CoreApi.${entity}`] = entityJsonSchema(entity);
  for (const event of EVENT_CATALOG) {
    components[`EventData.${event.id}`] = carriesEmptyData(event)
      ? eventDataSchema(event)
      : { allOf: [{ $ref: `#/components/schemas/CoreApi.${event.entity}` }], description: `data of ${event.id}: ${event.description}` };
  }
  for (const event of OPERATIONAL_EVENTS) components[`EventData.${event.id}`] = operationalDataSchema(event);
  return components;
}
