import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors.js';
import { findSourceAdapter, SOURCE_ENTITIES } from './adapters/registry.js';
import { isoWithOffset, objectKey } from './envelope.js';
import { AppConfig } from '../config/app-config.js';
import { checkDataSize, checkDt, idempotencyKey } from './event-validation.js';
import { DerivedEvent, IngestService, requestHash } from './ingest.service.js';
import { SourceChangeResultDto } from './dto/source-change.dto.js';

const ALLOWED_KEYS = new Set(['op', 'before', 'after', 'dt', 'idempotency_key']);

/** Turns one entity change into the events it means (through the entity's adapter) and accepts them together. */
@Injectable()
export class SourceChangesService {
  constructor(
    private readonly ingest: IngestService,
    private readonly config: AppConfig,
  ) {}

  async accept(entity: string, body: unknown, headerKey: string | undefined, apiKeyId: number | null): Promise<SourceChangeResultDto> {
    const adapter = findSourceAdapter(entity);
    if (!adapter) {
      throw DomainError.field('UNKNOWN_ENTITY', 'entity', `"${entity}" is not a source entity; one of: ${SOURCE_ENTITIES.join(', ')}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw DomainError.field('VALIDATION_FAILED', 'body', 'The body must be a JSON object');
    }
    const input = body as Record<string, unknown>;
    const unknown = Object.keys(input).filter((key) => !ALLOWED_KEYS.has(key));
    if (unknown.length > 0) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'Request validation failed',
        unknown.map((field) => ({ field, message: `property ${field} should not exist` })),
      );
    }
    if (typeof input.op !== 'string') throw DomainError.field('INVALID_OPERATION', 'op', `op is required: one of ${adapter.operations.join(', ')}`);
    const dt = input.dt;
    checkDt(dt);
    // Derived events are stored under `<key>#<position>`, so the key itself is kept shorter.
    const key = idempotencyKey(input.idempotency_key, headerKey, 180);

    // MAX_DATA_BYTES holds wherever an event enters: here for what the change carries (before the
    // adapter's work on it) and for the data of each event derived from it, as on /events.
    const maxDataBytes = this.config.ingest.maxDataBytes;
    const beforeJson = JSON.stringify(input.before);
    const afterJson = JSON.stringify(input.after);
    checkDataSize('before', beforeJson, maxDataBytes);
    checkDataSize('after', afterJson, maxDataBytes);

    const derived = adapter.derive({ op: input.op, before: input.before, after: input.after });
    const when = dt ?? isoWithOffset(Date.now());
    // The same change is the same entity, op, before, after (as JSON.stringify writes them: key
    // order counts, whitespace does not) and dt as given; every derived event carries its hash,
    // so a repeat with another change under the same key is refused whatever it would derive.
    const hash =
      key === null
        ? null
        : requestHash('change', [entity, input.op, beforeJson ?? 'no before', afterJson ?? 'no after', dt === undefined ? 'no dt' : `dt:${dt}`]);
    const events: DerivedEvent[] = derived.map((event, index) => {
      const dataJson = JSON.stringify(event.data);
      checkDataSize(`events[${index}].data`, dataJson, maxDataBytes, `the data of the derived event ${event.event}`);
      return {
        eventType: event.event,
        objectId: event.objectId,
        objectKey: objectKey(event.event, event.objectId),
        dt: when,
        dataJson,
        // Each derived event gets its own key, so a repeated change answers the same events.
        idempotencyKey: key === null ? null : `${key}#${index}`,
        requestHash: hash,
      };
    });
    const accepted = await this.ingest.acceptDerived(events, apiKeyId);
    const message =
      accepted.length === 0
        ? 'No field differs between before and after: no event derived'
        : `${accepted.length} event${accepted.length === 1 ? '' : 's'} derived and accepted`;
    return { entity, op: input.op, events: accepted, message };
  }
}
