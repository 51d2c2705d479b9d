import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors.js';
import { findSourceAdapter, SOURCE_ENTITIES } from './adapters/registry.js';
import { isoWithOffset, objectKey } from './envelope.js';
import { checkDt, idempotencyKey, ValidEvent } from './event-validation.js';
import { IngestService } from './ingest.service.js';
import { SourceChangeResultDto } from './dto/source-change.dto.js';

const ALLOWED_KEYS = new Set(['op', 'before', 'after', 'dt', 'idempotency_key']);

/** Turns one entity change into the events it means (through the entity's adapter) and accepts them together. */
@Injectable()
export class SourceChangesService {
  constructor(private readonly ingest: IngestService) {}

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

    const derived = adapter.derive({ op: input.op, before: input.before, after: input.after });
    const when = dt ?? isoWithOffset(Date.now());
    const events: ValidEvent[] = derived.map((event, index) => ({
      eventsId: event.event,
      objectId: event.objectId,
      objectKey: objectKey(event.event, event.objectId),
      dt: when,
      dataJson: JSON.stringify(event.data),
      // Each derived event gets its own key, so a repeated change answers the same events.
      idempotencyKey: key === null ? null : `${key}#${index}`,
    }));
    const accepted = await this.ingest.acceptDerived(events, apiKeyId);
    const message =
      accepted.length === 0
        ? 'No field differs between before and after: no event derived'
        : `${accepted.length} event${accepted.length === 1 ? '' : 's'} derived and accepted`;
    return { entity, op: input.op, events: accepted, message };
  }
}
