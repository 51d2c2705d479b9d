import { EntityKind, EVENT_CATALOG, EventDefinition } from './event-catalog.js';
import { entityJsonSchema } from './entity-shapes.js';

const ENTITIES: EntityKind[] = ['client', 'account', 'subscription', 'did', 'transaction', 'import_job', 'rates_email'];

/** Delete, archive and balance events carry {} unless the source sends more (the vendor's payload envelope). */
export function carriesEmptyData(event: EventDefinition): boolean {
  return Object.keys(event.sampleData).length === 0;
}

/** JSON schema of an event's `data`. */
export function eventDataSchema(event: EventDefinition): Record<string, unknown> {
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
 * of every catalog event (`EventData.<event id>`), added to the generated document.
 */
export function eventSchemaComponents(): Record<string, Record<string, unknown>> {
  const components: Record<string, Record<string, unknown>> = {};
  for (const entity of ENTITIES) components[`CoreApi.${entity}`] = entityJsonSchema(entity);
  for (const event of EVENT_CATALOG) {
    components[`EventData.${event.id}`] = carriesEmptyData(event)
      ? eventDataSchema(event)
      : { allOf: [{ $ref: `#/components/schemas/CoreApi.${event.entity}` }], description: `data of ${event.id}: ${event.description}` };
  }
  return components;
}
