import sift from 'sift';
import { DomainError, FieldProblem } from '../common/errors.js';

/**
 * Payload filters: a handler receives an event only when its filter matches the envelope it
 * would be sent (src/events/envelope.ts), e.g. `{"data.companies_id": 3}` or
 * `{"$or": [{"data.balance": {"$lt": 0}}, {"data.status": "suspended"}]}`.
 *
 * The language is MongoDB's query syntax, matched by `sift`: integrators know it from their own
 * databases, a filter is plain JSON (stored and shown as it was sent), and sift compiles a
 * query once into a tree of operations, so matching an event parses nothing. sift is small
 * (no dependencies) and takes the set of operators it may use; mingo brings an aggregation
 * engine with `$where` and `$function` to switch off, and JSON Logic is a syntax integrators
 * would have to learn. Only a safe subset is allowed, checked here when a filter is saved and
 * again when the cache compiles it: comparisons, sets, existence, arrays and logic. No `$where`
 * (code), no `$regex` (a pattern can take exponential time, and there is no way to bound one
 * here), no `$expr` or `$function`; sift itself is given only the operators below, so one that
 * slipped through could not run anyway. A filter's size and depth are bounded by
 * FILTER_MAX_BYTES and FILTER_MAX_DEPTH, which bounds the work of one match.
 */

/** The JSON a filter is matched against: the envelope the handler is sent. */
export interface FilterEnvelope {
  event: { dt: string; events_id: string; object_id: number };
  data: unknown;
}

/** What an envelope is built from at ingest: `data` is parsed only when a filter needs it. */
export interface EnvelopeSource {
  readonly eventType: string;
  readonly objectId: number;
  readonly dt: string;
  readonly dataJson: string;
}

/**
 * A filter as stored and shown: a JSON object (its validity is filterProblems' to judge).
 * `any` values: TypeORM's partial-entity type for updates cannot expand `unknown` or a recursive JSON type.
 */
export type HandlerFilter = Record<string, any>;
export type FilterTester = (envelope: FilterEnvelope) => boolean;
export interface FilterLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

/** The envelope as the handler receives it: `data` parsed from the very JSON it is sent. */
export function filterEnvelope(source: EnvelopeSource): FilterEnvelope {
  return { event: { dt: source.dt, events_id: source.eventType, object_id: source.objectId }, data: JSON.parse(source.dataJson) };
}

const { createQueryTester, $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $all, $size, $elemMatch, $not, $and, $or, $nor } = sift;

/** Every operator a filter may use; sift is given these and no others. */
const SAFE_OPERATIONS = { $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $all, $size, $elemMatch, $not, $and, $or, $nor };
export const FILTER_OPERATORS: readonly string[] = Object.freeze(Object.keys(SAFE_OPERATIONS));

/** Operators that combine whole queries; the others apply to one field. */
const LOGICAL = new Set(['$and', '$or', '$nor']);
const FIELD_OPERATORS = new Set(FILTER_OPERATORS.filter((op) => !LOGICAL.has(op)));
const ENVELOPE_EVENT_FIELDS = new Set(['dt', 'events_id', 'object_id']);
const MAX_PATH_LENGTH = 200;
/** Enough to show what is wrong without a list as long as the filter. */
const MAX_PROBLEMS = 10;

/**
 * What is wrong with `filter` as a payload filter, each problem at its position inside it
 * (`filter.$or[1].data.balance`); empty when it is valid. `field` names the filter itself.
 */
export function filterProblems(filter: unknown, limits: FilterLimits, field = 'filter'): FieldProblem[] {
  return checkFilter(filter, limits, field).problems;
}

/**
 * The problems of `filter` (see filterProblems) and, when there are none, its tester, compiled
 * once: null for a filter without a condition (`{}`), which matches every event. sift
 * compiles only what passed the rules, and with no operator but the safe ones.
 */
export function checkFilter(filter: unknown, limits: FilterLimits, field = 'filter'): { problems: FieldProblem[]; tester: FilterTester | null } {
  if (!isPlainObject(filter)) return refused(field, 'must be an object of envelope field paths and conditions, or null for no filter');
  const bytes = Buffer.byteLength(JSON.stringify(filter));
  if (bytes > limits.maxBytes) return refused(field, `is ${bytes} bytes as JSON; the limit is ${limits.maxBytes} (FILTER_MAX_BYTES)`);
  const check = new FilterCheck(limits.maxDepth);
  check.query(filter, field, 1, true);
  if (check.problems.length > 0) return { problems: check.problems, tester: null };
  try {
    return { problems: [], tester: compileFilter(filter) };
  } catch (error) {
    return refused(field, `is not a valid query: ${(error as Error).message}`);
  }
}

const refused = (field: string, message: string) => ({ problems: [{ field, message }], tester: null });

/** Throws INVALID_FILTER with every problem found (at most MAX_PROBLEMS), naming where each is. */
export function assertValidFilter(filter: unknown, limits: FilterLimits, field = 'filter'): asserts filter is HandlerFilter {
  const problems = filterProblems(filter, limits, field);
  if (problems.length > 0) throw invalidFilter(problems);
}

/** INVALID_FILTER for these problems (see filterProblems). */
export function invalidFilter(problems: FieldProblem[]): DomainError {
  return new DomainError('INVALID_FILTER', `The payload filter is not valid at ${problems[0]!.field}: ${problems[0]!.message}`, problems);
}

/**
 * A tester for a valid filter (see checkFilter, which calls this), compiled once. A filter
 * without a condition (`{}`) matches every event and compiles to null: nothing to evaluate. A
 * match that throws counts as no match, like a filter that cannot be read: the handler is not
 * sent what it did not ask for.
 */
export function compileFilter(filter: HandlerFilter): FilterTester | null {
  if (Object.keys(filter).length === 0) return null;
  const test = createQueryTester(filter, { operations: SAFE_OPERATIONS });
  return (envelope) => {
    try {
      return test(envelope);
    } catch {
      return false;
    }
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const hasOperatorKey = (value: Record<string, unknown>) => Object.keys(value).some((key) => key.startsWith('$'));

/** A walk over a filter that records each problem with its position; `depth` counts objects and arrays entered. */
class FilterCheck {
  readonly problems: FieldProblem[] = [];

  constructor(private readonly maxDepth: number) {}

  private problem(field: string, message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ field, message });
  }

  /** Whether a container at `depth` may be entered; records the problem when not. */
  private enter(depth: number, at: string): boolean {
    if (depth <= this.maxDepth) return true;
    this.problem(at, `nests deeper than ${this.maxDepth} levels of objects and arrays (FILTER_MAX_DEPTH)`);
    return false;
  }

  /** A query: field paths with conditions, and $and/$or/$nor. `envelope`: paths start at the envelope (not inside $elemMatch). */
  query(value: unknown, at: string, depth: number, envelope: boolean): void {
    if (!isPlainObject(value)) return this.problem(at, 'must be an object of field paths and conditions');
    if (!this.enter(depth, at)) return;
    for (const [key, item] of Object.entries(value)) {
      const here = `${at}.${key}`;
      if (LOGICAL.has(key)) this.logical(item, here, depth + 1, envelope);
      else if (FIELD_OPERATORS.has(key)) this.problem(here, `${key} applies to a field: write {"data.<field>": {"${key}": …}}`);
      else if (key.startsWith('$')) this.problem(here, unknownOperator(key));
      else {
        const pathProblem = fieldPathProblem(key, envelope);
        if (pathProblem) this.problem(here, pathProblem);
        else this.condition(item, here, depth + 1, envelope);
      }
    }
  }

  private logical(value: unknown, at: string, depth: number, envelope: boolean): void {
    if (!Array.isArray(value) || value.length === 0) return this.problem(at, 'must be a non-empty array of queries');
    if (!this.enter(depth, at)) return;
    value.forEach((item, index) => this.query(item, `${at}[${index}]`, depth + 1, envelope));
  }

  /** What a field is compared with: an object of operators, or a value it must equal. */
  private condition(value: unknown, at: string, depth: number, envelope: boolean): void {
    if (isPlainObject(value) && hasOperatorKey(value)) this.operators(value, at, depth, envelope);
    else this.literal(value, at, depth);
  }

  private operators(value: Record<string, unknown>, at: string, depth: number, envelope: boolean): void {
    if (!this.enter(depth, at)) return;
    if (Object.keys(value).some((key) => !key.startsWith('$'))) {
      return this.problem(at, 'mixes operators ($…) and field names: use one or the other');
    }
    for (const [op, arg] of Object.entries(value)) {
      const here = `${at}.${op}`;
      switch (op) {
        case '$eq':
        case '$ne':
          this.literal(arg, here, depth + 1);
          break;
        case '$gt':
        case '$gte':
        case '$lt':
        case '$lte':
          if (typeof arg !== 'number' && typeof arg !== 'string') this.problem(here, 'must be a number or a string');
          break;
        case '$in':
        case '$nin':
        case '$all':
          if (!Array.isArray(arg) || (op === '$all' && arg.length === 0)) {
            this.problem(here, op === '$all' ? 'must be a non-empty array of values' : 'must be an array of values');
          } else if (this.enter(depth + 1, here)) {
            arg.forEach((item, index) => this.literal(item, `${here}[${index}]`, depth + 2));
          }
          break;
        case '$exists':
          if (typeof arg !== 'boolean') this.problem(here, 'must be true or false');
          break;
        case '$size':
          if (typeof arg !== 'number' || !Number.isInteger(arg) || arg < 0) this.problem(here, 'must be a whole number of 0 or more');
          break;
        case '$not':
          if (isPlainObject(arg) && hasOperatorKey(arg)) this.operators(arg, here, depth + 1, envelope);
          else this.problem(here, 'must be an object of operators, e.g. {"$lt": 0}');
          break;
        case '$elemMatch':
          if (!isPlainObject(arg) || Object.keys(arg).length === 0) this.problem(here, 'must be a non-empty object: operators on each element, or a query on its fields');
          else if (hasOperatorKey(arg) && Object.keys(arg).every((key) => FIELD_OPERATORS.has(key))) this.operators(arg, here, depth + 1, envelope);
          else this.query(arg, here, depth + 1, false);
          break;
        default:
          this.problem(here, LOGICAL.has(op) ? `${op} combines whole queries: put it beside field paths, not under one` : unknownOperator(op));
      }
    }
  }

  /** A JSON value compared as it is: no key in it may start with $ (it would read as an operator). */
  private literal(value: unknown, at: string, depth: number): void {
    if (value === null || typeof value !== 'object') return;
    if (!this.enter(depth, at)) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => this.literal(item, `${at}[${index}]`, depth + 1));
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('$')) this.problem(`${at}.${key}`, 'a field name inside a value cannot start with $');
      else this.literal(item, `${at}.${key}`, depth + 1);
    }
  }
}

function unknownOperator(op: string): string {
  return `${op} is not an allowed operator; allowed: ${FILTER_OPERATORS.join(', ')}`;
}

/** Why `path` cannot name a field (null when it can); at the envelope level it must start with `data.` or name an `event.` field. */
function fieldPathProblem(path: string, envelope: boolean): string | null {
  if (path.length > MAX_PATH_LENGTH) return `a field path is at most ${MAX_PATH_LENGTH} characters`;
  const segments = path.split('.');
  if (segments.some((segment) => segment === '')) return 'a field path cannot have an empty part (two dots, or a dot at an end)';
  const inherited = segments.find((segment) => segment in Object.prototype);
  if (inherited !== undefined) return `"${inherited}" names a property every object inherits, not a field`;
  if (!envelope) return null;
  const [root, field, ...rest] = segments;
  const envelopeHint = 'paths start at the envelope: data.<field> for the event\'s data, or event.events_id, event.object_id, event.dt';
  if (root !== 'data' && root !== 'event') return envelopeHint;
  if (root === 'event' && field !== undefined && (!ENVELOPE_EVENT_FIELDS.has(field) || rest.length > 0)) return envelopeHint;
  return null;
}
