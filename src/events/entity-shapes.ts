/**
 * CoreAPI entity shapes: the known fields of each entity an event's `data` carries,
 * a validator for the types of those fields and a JSON-schema-like description for Swagger.
 * Every known field is optional; unknown fields are allowed and passed through untouched.
 * Pure data and small helpers; no framework imports.
 */
import type { EntityKind, EventDefinition } from './event-catalog.js';

export type FieldType =
  | 'integer'
  | 'decimal'
  | 'string'
  | 'boolean'
  | 'datetime'
  | 'string[]'
  | 'object'
  | { enum: readonly string[] };

export interface EntityShape {
  readonly entity: EntityKind;
  readonly fields: Readonly<Record<string, FieldType>>;
}

export interface ShapeProblem {
  field: string;
  message: string;
}

function shape(entity: EntityKind, fields: Record<string, FieldType>): EntityShape {
  return Object.freeze({ entity, fields: Object.freeze(fields) });
}

const oneOf = (...values: string[]): FieldType => Object.freeze({ enum: Object.freeze(values) });

const FILE_JOB_FIELDS: Record<string, FieldType> = {
  id: 'integer',
  file_name: 'string',
  rate_tables_id: 'integer',
  error: 'string',
};

export const ENTITY_SHAPES: Readonly<Record<EntityKind, EntityShape>> = Object.freeze({
  client: shape('client', {
    id: 'integer',
    name: 'string',
    companies_id: 'integer',
    currencies_id: 'integer',
    status: oneOf('active', 'suspended', 'archive'),
    credit: 'decimal',
    balance: 'decimal',
    c_company: 'string',
    c_email_billing: 'string',
    tags: 'string[]',
    payment_terms_id: 'integer',
    custom_fields: 'object',
  }),
  account: shape('account', {
    id: 'integer',
    clients_id: 'integer',
    name: 'string',
    auth_type: 'string',
    ips: 'string[]',
    ani: 'string',
    tech_prefix: 'string',
    orig_enabled: 'boolean',
    term_enabled: 'boolean',
    status: 'string',
  }),
  subscription: shape('subscription', {
    id: 'integer',
    clients_id: 'integer',
    packages_id: 'integer',
    status: oneOf('active', 'pending', 'archive'),
    start_dt: 'datetime',
    stop_dt: 'datetime',
    renew_due: 'datetime',
  }),
  did: shape('did', {
    id: 'integer',
    did: 'string',
    status: oneOf('in_stock', 'reserved', 'active', 'blocked', 'hold', 'archive'),
    operators_id: 'integer',
    tag: 'string',
    notes: 'string',
    clients_id: 'integer',
    accounts_id: 'integer',
  }),
  transaction: shape('transaction', {
    id: 'integer',
    clients_id: 'integer',
    companies_id: 'integer',
    currencies_id: 'integer',
    type: oneOf('charge', 'payment'),
    amount: 'decimal',
    dt: 'datetime',
    payment_accounts_id: 'integer',
    notes: 'string',
    status: oneOf('pending', 'approved'),
  }),
  import_job: shape('import_job', { ...FILE_JOB_FIELDS }),
  rates_email: shape('rates_email', { ...FILE_JOB_FIELDS }),
  // The service's own entities, the `data` of its operational events (provisioning.*). Built by
  // the service (src/operational-events/), never posted: every field is always present, and no
  // secret (signing secret, header values, the target's address) is ever among them.
  handler: shape('handler', {
    id: 'integer',
    name: 'string',
    status: 'string',
    cause: 'string',
    reason: 'string',
    until: 'datetime',
  }),
  delivery: shape('delivery', {
    id: 'integer',
    event_id: 'integer',
    event: 'string',
    object_id: 'integer',
    handler_id: 'integer',
    handler_name: 'string',
    attempts: 'integer',
    last_response_code: 'integer',
    last_error: 'string',
    cause: 'string',
  }),
});

// ---------------------------------------------------------------------------
// Type checkers: each returns an error message, or undefined when the value fits
// ---------------------------------------------------------------------------

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function isDateTime(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const m = DATETIME_RE.exec(v);
  if (!m || Number.isNaN(Date.parse(v))) return false;
  // Date.parse rolls impossible days over (2026-02-30 → 2026-03-02); reject them.
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  return d >= 1 && d <= daysInMonth;
}

const isScalar = (v: unknown): boolean =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

type Checker = (v: unknown) => string | undefined;
const check = (ok: (v: unknown) => boolean, message: string): Checker => (v) => (ok(v) ? undefined : message);

const CHECKERS: Readonly<Record<Exclude<FieldType, { enum: readonly string[] }>, Checker>> = {
  integer: check((v) => Number.isSafeInteger(v), 'must be an integer'),
  decimal: check(
    (v) => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && DECIMAL_RE.test(v)),
    'must be a number or a decimal string',
  ),
  string: check((v) => typeof v === 'string', 'must be a string'),
  boolean: check((v) => typeof v === 'boolean', 'must be a boolean'),
  datetime: check(isDateTime, 'must be an ISO 8601 date-time'),
  'string[]': check((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), 'must be an array of strings'),
  // `object` fields (custom_fields) are flat key → scalar maps; bad values are reported per key below.
  object: check(isPlainObject, 'must be a JSON object'),
};

function checkField(type: FieldType, value: unknown, path: string): ShapeProblem[] {
  if (typeof type === 'object') {
    return typeof value === 'string' && type.enum.includes(value)
      ? []
      : [{ field: path, message: `must be one of: ${type.enum.join(', ')}` }];
  }
  const message = CHECKERS[type](value);
  if (message !== undefined) return [{ field: path, message }];
  if (type !== 'object') return [];
  return Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => !isScalar(v))
    .map(([k]) => ({ field: `${path}.${k}`, message: 'must be a string, number, boolean or null' }));
}

/**
 * Checks the types of the known fields that are present; unknown fields are allowed and untouched.
 * null is accepted for every known field except `id` (which must be a positive integer).
 * Returns [] when valid. Never mutates `data`.
 */
export function validateEntityData(entity: EntityKind, data: unknown, prefix = 'data'): ShapeProblem[] {
  if (!isPlainObject(data)) return [{ field: prefix, message: 'must be a JSON object' }];
  const problems: ShapeProblem[] = [];
  for (const [name, type] of Object.entries(ENTITY_SHAPES[entity].fields)) {
    const value = Object.hasOwn(data, name) ? data[name] : undefined;
    if (value === undefined) continue;
    const path = `${prefix}.${name}`;
    if (name === 'id') {
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        problems.push({ field: path, message: 'must be a positive integer' });
      }
    } else if (value !== null) {
      problems.push(...checkField(type, value, path));
    }
  }
  return problems;
}

/**
 * Checks data a `before` handler answered to replace an event's data (`{"data": {…}}`). It must
 * be the same object in the entity's shape, which is stricter than what a source may post:
 * - the known fields have their types (validateEntityData);
 * - identity: `id` equals the event's object_id, and is required when the event's data carries
 *   the entity (every event whose sample data is not {}: creates, updates, status changes);
 * - no field outside the entity's shape unless the handler was sent it: unknown fields may be
 *   passed through or dropped, not invented. Without this a DID's data could be replaced by
 *   anything that merely avoided the DID's own field names ({"balance": "x"}), since the type
 *   checks only see the entity's known fields.
 * `current` is the data the handler was sent. Returns [] when the replacement fits.
 */
export function validateReplacementData(
  event: Pick<EventDefinition, 'entity' | 'sampleData'>,
  replacement: unknown,
  current: Readonly<Record<string, unknown>>,
  objectId: number,
  prefix = 'data',
): ShapeProblem[] {
  const problems = validateEntityData(event.entity, replacement, prefix);
  if (!isPlainObject(replacement)) return problems;
  const carriesEntity = Object.keys(event.sampleData).length > 0;
  const id = Object.hasOwn(replacement, 'id') ? replacement.id : undefined;
  if (id === undefined ? carriesEntity : id !== objectId) {
    problems.push({ field: `${prefix}.id`, message: id === undefined ? 'is required and must equal object_id' : 'must equal object_id' });
  }
  const known = ENTITY_SHAPES[event.entity].fields;
  for (const name of Object.keys(replacement)) {
    if (!Object.hasOwn(known, name) && !Object.hasOwn(current, name)) {
      problems.push({ field: `${prefix}.${name}`, message: `is not a field of the CoreAPI ${event.entity} shape` });
    }
  }
  return problems;
}

function fieldSchema(name: string, type: FieldType): Record<string, unknown> {
  if (name === 'id') return { type: 'integer', minimum: 1 };
  if (typeof type === 'object') return { type: 'string', enum: [...type.enum], nullable: true };
  switch (type) {
    case 'integer':
    case 'string':
    case 'boolean':
      return { type, nullable: true };
    case 'decimal':
      return {
        oneOf: [{ type: 'number' }, { type: 'string', pattern: DECIMAL_RE.source }],
        nullable: true,
        description: 'Decimal: a number or a decimal string.',
      };
    case 'datetime':
      return { type: 'string', format: 'date-time', nullable: true };
    case 'string[]':
      return { type: 'array', items: { type: 'string' }, nullable: true };
    case 'object':
      return {
        type: 'object',
        additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }], nullable: true },
        nullable: true,
      };
  }
}

/** JSON-schema-like description of an entity's known fields, for Swagger (a fresh object per call). */
export function entityJsonSchema(entity: EntityKind): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(ENTITY_SHAPES[entity].fields)) {
    properties[name] = fieldSchema(name, type);
  }
  return {
    type: 'object',
    description: `CoreAPI ${entity}. All fields optional; unknown fields are passed through.`,
    properties,
    additionalProperties: true,
  };
}
