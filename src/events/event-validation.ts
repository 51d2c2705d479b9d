import { validateSync } from 'class-validator';
import { DomainError, FieldProblem } from '../common/errors.js';
import { isCalendarDateTimeWithOffset } from '../common/dates.js';
import { bodyNotAnObject, droppedKeyProblems, flattenValidationErrors, mergeProblems, missingBody } from '../common/validation.js';
import { findEvent, isOperationalEvent } from './event-catalog.js';
import { validateEntityData } from './entity-shapes.js';
import { isoWithOffset, objectKey } from './envelope.js';
import { PostEventDto } from './dto/event.dto.js';

/** An event that passed every check, ready to be stored. */
export interface ValidEvent {
  eventType: string;
  objectId: number;
  objectKey: string;
  dt: string;
  dataJson: string;
  idempotencyKey: string | null;
}

/**
 * Checks one posted event: the body's shape, the event ID against the catalog (never one of
 * the service's own operational events: EVENT_RESERVED), `dt`, and `data` against the CoreAPI
 * shape of the event's entity. Throws a DomainError naming the fields.
 */
export function validateEvent(input: unknown, headerKey: string | undefined, now: number, maxDataBytes: number): ValidEvent {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new DomainError('VALIDATION_FAILED', 'An event must be a JSON object', [{ field: 'body', message: 'must be a JSON object' }]);
  }
  let dto = validWithoutValidator(input as Record<string, unknown>);
  if (!dto) {
    // Only the top level: `data` is passed through as sent, its keys included.
    const dropped = droppedKeyProblems(input);
    const errors = validateSync(shallowDto(input as Record<string, unknown>), { whitelist: true, forbidNonWhitelisted: true });
    if (dropped.length > 0 || errors.length > 0) {
      throw new DomainError('VALIDATION_FAILED', 'Request validation failed', mergeProblems(dropped, flattenValidationErrors(errors)));
    }
    dto = input as unknown as PostEventDto;
  }

  const definition = findEvent(dto.event);
  if (!definition) throw DomainError.field('UNKNOWN_EVENT', 'event', `"${dto.event}" is not an event ID of the catalog`);
  // Operational events are the service's own account of its handlers and deliveries: only it
  // emits them (src/operational-events/), so that a receiver can trust one it is sent.
  if (isOperationalEvent(definition.id)) {
    throw DomainError.field('EVENT_RESERVED', 'event', `"${definition.id}" is an operational event the service emits itself; no key may post it`);
  }

  checkDt(dto.dt);

  const data = dto.data ?? {};
  const problems = validateEntityData(definition.entity, data);
  const dataId = (data as { id?: unknown }).id;
  if (problems.length === 0 && dataId !== undefined && dataId !== dto.object_id) {
    problems.push({ field: 'data.id', message: 'must equal object_id' });
  }
  if (problems.length > 0) {
    throw new DomainError('DATA_INVALID', `data does not fit the CoreAPI ${definition.entity} shape`, problems);
  }

  const key = idempotencyKey(dto.idempotency_key, headerKey, 200);
  const dataJson = JSON.stringify(data);
  checkDataSize('data', dataJson, maxDataBytes);

  return {
    eventType: definition.id,
    objectId: dto.object_id,
    objectKey: objectKey(definition.id, dto.object_id),
    dt: dto.dt ?? isoWithOffset(now),
    dataJson,
    idempotencyKey: key,
  };
}

/**
 * The body of POST /api/v1/events/batch, checked by hand rather than through PostEventBatchDto
 * and the ValidationPipe: class-transformer would copy every event (a walk of the whole body
 * on the ingest path) and drop their `constructor` and `__proto__` keys before
 * validateEvent could refuse them. Answers the events, each still to be validated.
 */
export function batchEvents(body: unknown): unknown[] {
  if (body === undefined) throw missingBody();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bodyNotAnObject();
  // Object.keys lists `constructor` and `__proto__` too: JSON.parse makes them own properties.
  const problems: FieldProblem[] = Object.keys(body)
    .filter((key) => key !== 'events')
    .map((key) => ({ field: key, message: `property ${key} should not exist` }));
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) problems.push({ field: 'events', message: 'events must be an array' });
  else if (events.length === 0) problems.push({ field: 'events', message: 'events must contain at least 1 elements' });
  if (problems.length > 0) throw new DomainError('VALIDATION_FAILED', 'Request validation failed', problems);
  return events as unknown[];
}

/**
 * The body's top-level fields on a PostEventDto, for class-validator, which finds the rules
 * through the instance's class. Not plainToInstance: PostEventDto transforms nothing, and
 * class-transformer would copy `data` whole, dropping its `constructor` keys, and fail (a
 * 500) on one whose value is an object, taking it for the class to build.
 */
function shallowDto(input: Record<string, unknown>): PostEventDto {
  const dto = new PostEventDto();
  for (const key of Object.keys(input)) {
    if (key !== '__proto__' && key !== 'constructor') (dto as unknown as Record<string, unknown>)[key] = input[key];
  }
  return dto;
}

const POST_EVENT_FIELDS = new Set(['event', 'object_id', 'data', 'dt', 'idempotency_key']);
const PRINTABLE_KEY = /^[\x20-\x7e]{1,200}$/;

/**
 * The body as a PostEventDto when it plainly passes every rule of PostEventDto (a catalog
 * event, a positive safe integer object_id, data an object, dt a string, a printable key of
 * 1 to 200 characters, no other field); otherwise null, and class-validator judges it and
 * words the errors. Saves the class-transformer and class-validator work on the common case.
 */
function validWithoutValidator(input: Record<string, unknown>): PostEventDto | null {
  for (const key of Object.keys(input)) if (!POST_EVENT_FIELDS.has(key)) return null;
  const { event, object_id: objectId, data, dt, idempotency_key: key } = input;
  if (typeof event !== 'string' || findEvent(event) === undefined) return null;
  if (typeof objectId !== 'number' || !Number.isSafeInteger(objectId) || objectId < 1) return null;
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) return null;
  if (dt !== undefined && typeof dt !== 'string') return null;
  if (key !== undefined && (typeof key !== 'string' || !PRINTABLE_KEY.test(key))) return null;
  return input as unknown as PostEventDto;
}

/** `dt`, when given, must be ISO 8601 with an offset (the form of the envelope's event.dt) and exist in the calendar. */
export function checkDt(dt: unknown): asserts dt is string | undefined {
  if (dt !== undefined && (typeof dt !== 'string' || !isCalendarDateTimeWithOffset(dt))) {
    throw DomainError.field('VALIDATION_FAILED', 'dt', 'dt must be a real ISO 8601 date-time with an offset, e.g. 2026-11-22T10:15:30+00:00');
  }
}

/** The idempotency key from the body or the Idempotency-Key header (1 to `maxLength` characters; both must agree). */
export function idempotencyKey(bodyKey: unknown, headerKey: string | undefined, maxLength: number): string | null {
  if (bodyKey !== undefined && (typeof bodyKey !== 'string' || bodyKey.length < 1 || bodyKey.length > maxLength)) {
    throw DomainError.field('IDEMPOTENCY_KEY_INVALID', 'idempotency_key', `idempotency_key must be 1 to ${maxLength} characters`);
  }
  if (headerKey !== undefined && (headerKey.length < 1 || headerKey.length > maxLength)) {
    throw DomainError.field('IDEMPOTENCY_KEY_INVALID', 'Idempotency-Key', `Idempotency-Key must be 1 to ${maxLength} characters`);
  }
  if (headerKey !== undefined && bodyKey !== undefined && headerKey !== bodyKey) {
    throw DomainError.field('IDEMPOTENCY_KEY_INVALID', 'idempotency_key', 'idempotency_key and the Idempotency-Key header differ');
  }
  return (bodyKey as string | undefined) ?? headerKey ?? null;
}

/**
 * MAX_DATA_BYTES, counted in bytes of the stored JSON (what every handler is sent, once per
 * call), wherever an event's data enters. A string of at most a third of the limit in UTF-16
 * units cannot exceed it in UTF-8, so most events skip the byte count.
 */
export function checkDataSize(field: string, json: string | undefined, maxDataBytes: number, what = field): void {
  if (json === undefined || json.length <= maxDataBytes / 3) return;
  const bytes = Buffer.byteLength(json);
  if (bytes <= maxDataBytes) return;
  throw DomainError.field('DATA_TOO_LARGE', field, `${what} is ${bytes} bytes as JSON; the limit is ${maxDataBytes} (MAX_DATA_BYTES)`);
}
