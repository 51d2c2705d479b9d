/**
 * Helpers shared by every source adapter: validation of a posted change (op, before/after,
 * shapes, object id) and comparison of before/after (deep equality, decimals as numbers).
 * Pure; no framework imports.
 */
import { DomainError, type FieldProblem } from '../../common/errors.js';
import { ENTITY_SHAPES, validateEntityData } from '../entity-shapes.js';
import type { EntityKind } from '../event-catalog.js';
import type { DerivedEvent, SourceAdapter } from './source-adapter.js';

export type JsonObject = Record<string, unknown>;

/**
 * What an operation needs:
 * - `after`: `after` is required (create and the entity's own operations);
 * - `both`: `before` and `after` are required (update);
 * - `either`: at least one of them (delete); the object id comes from `before.id`, else `after.id`.
 */
export type Needs = 'after' | 'both' | 'either';

/** A validated change: both sides (when sent) are plain objects of the right shape. */
export interface CheckedChange {
  op: string;
  before?: JsonObject;
  after?: JsonObject;
  /** The entity id (`event.object_id`). */
  id: number;
}

type AdapterInfo = Pick<SourceAdapter, 'entity' | 'shape' | 'operations'>;

export function isPlainObject(v: unknown): v is JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** True when `obj` has `key` with a value other than undefined and null. */
export function present(obj: JsonObject | undefined, key: string): boolean {
  return obj !== undefined && Object.hasOwn(obj, key) && obj[key] !== undefined && obj[key] !== null;
}

/** Throws INVALID_OPERATION (field `op`) unless `op` is one of the adapter's operations. */
export function checkOperation(adapter: AdapterInfo, op: unknown): string {
  if (typeof op === 'string' && adapter.operations.includes(op)) return op;
  const allowed = adapter.operations.join(', ');
  const message =
    op === undefined || op === null
      ? `op is required; for ${adapter.entity} it must be one of: ${allowed}`
      : `op must be one of: ${allowed} (for ${adapter.entity})`;
  throw DomainError.field('INVALID_OPERATION', 'op', message);
}

/**
 * Validates a posted change, in this order (the first failing step throws):
 * 1. the change is an object (VALIDATION_FAILED, field `change`);
 * 2. `op` is one of the adapter's operations (INVALID_OPERATION, field `op`);
 * 3. the sides the operation needs are sent (VALIDATION_FAILED, field `after` / `before`; a null
 *    side counts as not sent);
 * 4. every side sent is a JSON object (VALIDATION_FAILED);
 * 5. every side sent matches the entity shape (DATA_INVALID, all problems, paths `before.*` / `after.*`);
 * 6. the object id is present (DATA_INVALID, `after.id` or, for delete, `before.id`: 'is required')
 *    and, when both sides carry an id, `before.id` equals `after.id` (DATA_INVALID, `after.id`).
 * Sides the operation does not need are still validated when sent.
 */
export function checkChange(adapter: AdapterInfo, change: unknown, needs: Readonly<Record<string, Needs>>): CheckedChange {
  if (!isPlainObject(change)) {
    throw DomainError.field('VALIDATION_FAILED', 'change', 'the change must be a JSON object {op, before?, after?}');
  }
  const op = checkOperation(adapter, change['op']);
  const need = needs[op] ?? 'after';
  const rawBefore = change['before'] ?? undefined;
  const rawAfter = change['after'] ?? undefined;

  const missing: FieldProblem[] = [];
  if (need === 'either' && rawBefore === undefined && rawAfter === undefined) {
    missing.push({ field: 'before', message: `before (or after) is required for ${op}` });
  }
  if ((need === 'after' || need === 'both') && rawAfter === undefined) {
    missing.push({ field: 'after', message: `after is required for ${op}` });
  }
  if (need === 'both' && rawBefore === undefined) {
    missing.push({ field: 'before', message: `before is required for ${op}` });
  }
  if (missing.length > 0) throw new DomainError('VALIDATION_FAILED', joinProblems(missing), missing);

  const notObjects: FieldProblem[] = [];
  for (const [field, value] of [['before', rawBefore], ['after', rawAfter]] as const) {
    if (value !== undefined && !isPlainObject(value)) {
      notObjects.push({ field, message: `${field} must be a JSON object (the ${adapter.shape} in CoreAPI shape)` });
    }
  }
  if (notObjects.length > 0) throw new DomainError('VALIDATION_FAILED', joinProblems(notObjects), notObjects);
  const before = rawBefore as JsonObject | undefined;
  const after = rawAfter as JsonObject | undefined;

  const problems: FieldProblem[] = [
    ...(before === undefined ? [] : validateEntityData(adapter.shape, before, 'before')),
    ...(after === undefined ? [] : validateEntityData(adapter.shape, after, 'after')),
  ];
  if (problems.length > 0) {
    throw new DomainError('DATA_INVALID', `Invalid ${adapter.entity} data: ${joinProblems(problems)}`, problems);
  }

  const idSide = need === 'either' && before !== undefined ? 'before' : 'after';
  const idSource = idSide === 'before' ? before : after;
  if (!present(idSource, 'id')) {
    throw new DomainError('DATA_INVALID', `${idSide}.id is required`, [{ field: `${idSide}.id`, message: 'is required' }]);
  }
  if (present(before, 'id') && present(after, 'id') && before!['id'] !== after!['id']) {
    throw new DomainError('DATA_INVALID', 'after.id must equal before.id', [
      { field: 'after.id', message: 'must equal before.id' },
    ]);
  }
  return { op, before, after, id: idSource!['id'] as number };
}

function joinProblems(problems: readonly FieldProblem[]): string {
  return problems.map((p) => (p.message.startsWith(p.field) ? p.message : `${p.field} ${p.message}`)).join('; ');
}

// ---------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------

/** Structural equality of JSON values: arrays element by element in order, objects key by key. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return aKeys.length === bKeys.length && aKeys.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]));
}

const DECIMAL_RE = /^-?\d+(\.\d+)?$/;

/** A CoreAPI decimal (a finite number or a decimal string such as "10.50") as a number; undefined otherwise. */
export function toDecimal(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && DECIMAL_RE.test(v)) return Number(v);
  return undefined;
}

/** Equality of two decimals compared as numbers (10.5 equals "10.50"); other values deeply. */
export function decimalEqual(a: unknown, b: unknown): boolean {
  const x = toDecimal(a);
  const y = toDecimal(b);
  return x !== undefined && y !== undefined ? x === y : deepEqual(a, b);
}

/** The names of the `decimal` fields of an entity shape (compared as numbers by changedFields). */
export function decimalFields(shape: EntityKind): ReadonlySet<string> {
  return new Set(
    Object.entries(ENTITY_SHAPES[shape].fields)
      .filter(([, type]) => type === 'decimal')
      .map(([name]) => name),
  );
}

/**
 * The keys of `after` whose value differs from `before`, in `after`'s key order: deep comparison
 * for arrays and objects; keys in `decimals` compared as numbers; a key present in `after` but
 * absent from `before` counts as changed; keys only in `before` (and keys whose value in `after`
 * is undefined) are ignored.
 */
export function changedFields(before: JsonObject, after: JsonObject, decimals: ReadonlySet<string> = new Set()): string[] {
  return Object.keys(after).filter((key) => {
    if (after[key] === undefined) return false;
    if (!Object.hasOwn(before, key)) return true;
    return decimals.has(key) ? !decimalEqual(before[key], after[key]) : !deepEqual(before[key], after[key]);
  });
}

/** `{id, ...the changed fields}` with values from `after` (unknown fields included). */
export function changedData(id: number, after: JsonObject, changed: readonly string[]): JsonObject {
  const data: JsonObject = { id };
  for (const key of changed) if (key !== 'id') data[key] = after[key];
  return data;
}

/** A shallow copy of `after` (every field, unknown ones included) as event data. */
export function fullData(after: JsonObject | undefined): JsonObject {
  return { ...after };
}

/**
 * The create / update / delete rules shared by the account, charge and payment adapters:
 * create → `<prefix>.create` with data = after; update → `<prefix>.update` with
 * data = {id, ...changed fields} ([] when no field other than id differs); delete →
 * `<prefix>.delete` with data {}.
 */
export function deriveCrud(prefix: string, shape: EntityKind, change: CheckedChange): DerivedEvent[] {
  const { op, id } = change;
  if (op === 'create') return [{ event: `${prefix}.create`, objectId: id, data: fullData(change.after) }];
  if (op === 'delete') return [{ event: `${prefix}.delete`, objectId: id, data: {} }];
  const changed = changedFields(change.before!, change.after!, decimalFields(shape)).filter((k) => k !== 'id');
  return changed.length === 0 ? [] : [{ event: `${prefix}.update`, objectId: id, data: changedData(id, change.after!, changed) }];
}

/** The needs of create / update / delete. */
export const CRUD_NEEDS: Readonly<Record<string, Needs>> = Object.freeze({ create: 'after', update: 'both', delete: 'either' });
