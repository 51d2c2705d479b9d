import { ArgumentMetadata, PipeTransform, ValidationError, ValidationPipe } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy, ValidateIf, ValidationArguments } from 'class-validator';
import { isCalendarDateOrDateTime } from './dates.js';
import { DomainError, FieldProblem } from './errors.js';

/** Flattens class-validator's tree into one entry per failing field, with dotted paths. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const message of Object.values(error.constraints ?? {})) {
      problems.push({ field, message: parent ? message.replace(error.property, field) : message });
    }
    if (error.children?.length) problems.push(...flattenValidationErrors(error.children, field));
  }
  return problems;
}

/**
 * Keys Nest's ValidationPipe strips and class-transformer drops (`__proto__`, `constructor`)
 * without a word, at any depth, so that `whitelist` never sees them: checked here first,
 * they are refused like any other unknown field instead of vanishing from what is stored.
 */
const DROPPED_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/**
 * An "unknown field" problem for each key of `value` that would be dropped unseen; with
 * `deep`, in nested objects and arrays too (their depth is bounded by MAX_JSON_DEPTH).
 */
export function droppedKeyProblems(value: object, deep = false, path = ''): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!Array.isArray(value)) {
    for (const key of DROPPED_KEYS) {
      if (Object.hasOwn(value, key)) {
        const field = path ? `${path}.${key}` : key;
        problems.push({ field, message: `property ${field} should not exist` });
      }
    }
  }
  if (deep) {
    for (const [key, item] of Object.entries(value)) {
      if (item !== null && typeof item === 'object') problems.push(...droppedKeyProblems(item as object, true, path ? `${path}.${key}` : key));
    }
  }
  return problems;
}

/** `first`, then those of `more` not already listed. */
export function mergeProblems(first: FieldProblem[], more: FieldProblem[]): FieldProblem[] {
  const seen = new Set(first.map((problem) => `${problem.field}\n${problem.message}`));
  return [...first, ...more.filter((problem) => !seen.has(`${problem.field}\n${problem.message}`))];
}

/**
 * A body field that may be left out but is never null: class-validator's IsOptional skips null
 * too, so `"priority": null` would pass every rule and quietly mean "the default". With this,
 * null is a value like any other and must pass the field's own rules (the OpenAPI document
 * declares such fields non-nullable). Fields that may be null say so with IsOptional.
 */
export const Omittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

const BODY_REQUIRED = Symbol('body required');

/**
 * Marks a DTO whose fields are all optional but whose route still needs a body (an edit): an
 * absent body there is "body missing", not an empty edit.
 */
export const BodyRequired = (): ClassDecorator => (target) => {
  Reflect.defineMetadata(BODY_REQUIRED, true, target);
};

const validationFailed = (details: FieldProblem[]) => new DomainError('VALIDATION_FAILED', 'Request validation failed', details);

/** A route that needs a body got none (or an empty one). */
export const missingBody = () =>
  new DomainError('VALIDATION_FAILED', 'The request body is missing: send a JSON object', [{ field: 'body', message: 'body is required (a JSON object)' }]);

/** The body is JSON, but null, an array, a string or a number. */
export const bodyNotAnObject = () => validationFailed([{ field: 'body', message: 'body must be a JSON object' }]);

/**
 * Nest's ValidationPipe with three differences: a DTO body must be a JSON object (an
 * absent one is accepted only when the DTO has no required field and is not BodyRequired), `__proto__`,
 * `constructor` and `prototype` are unknown fields like any other, at any depth, and route
 * parameters reach their own pipe as the text sent (Nest's `+value` would turn `0x26` into
 * 38 first).
 */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const { type } = metadata;
    if ((type === 'body' || type === 'query') && metadata.metatype && this.toValidate(metadata)) {
      if (type === 'body' && value === undefined) return this.absentBody(metadata);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bodyNotAnObject();
      const dropped = droppedKeyProblems(value, true);
      if (dropped.length > 0) {
        let others: FieldProblem[] = [];
        try {
          await super.transform(value, metadata);
        } catch (error) {
          if (error instanceof DomainError) others = error.details;
        }
        throw validationFailed(mergeProblems(dropped, others));
      }
    }
    return super.transform(value, metadata);
  }

  private async absentBody(metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.metatype && Reflect.getMetadata(BODY_REQUIRED, metadata.metatype) === true) throw missingBody();
    try {
      return await super.transform({}, metadata);
    } catch {
      throw missingBody();
    }
  }

  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'param') return value;
    return super.transformPrimitive(value, metadata);
  }
}

export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => validationFailed(flattenValidationErrors(errors)),
  });
}

/** Ids are safe integers: every id column holds less, and a JavaScript number holds them exactly. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
const DECIMAL_INTEGER = /^(?:0|[1-9][0-9]{0,15})$/;

/** The number written by `text` in plain decimal digits (no sign, space, leading zero, exponent or hex), or undefined. */
export function parseDecimalInteger(text: unknown): number | undefined {
  if (typeof text !== 'string' || !DECIMAL_INTEGER.test(text)) return undefined;
  const value = Number(text);
  return value <= Number.MAX_SAFE_INTEGER ? value : undefined;
}

const idMessage = (field: string) => `${field} must be a whole number from 1 to ${MAX_ID}, written in decimal digits`;

/** `:id` route parameters: `^[1-9][0-9]*$` up to MAX_ID, or VALIDATION_FAILED naming the field. */
export const idParam = (field = 'id'): PipeTransform<unknown, number> => ({
  transform(value: unknown): number {
    const id = parseDecimalInteger(value);
    if (id === undefined || id < 1 || id > MAX_ID) throw DomainError.field('VALIDATION_FAILED', field, idMessage(field));
    return id;
  },
});

/**
 * One rule and one message for a whole number in [min, max]: a string, a fraction or a
 * number out of range all answer the same sentence, instead of one per failed decorator.
 */
export function IsIntegerInRange(min: number, max: number): PropertyDecorator {
  return ValidateBy({
    name: 'isIntegerInRange',
    constraints: [min, max],
    validator: {
      validate: (value: unknown) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
      defaultMessage: (args?: ValidationArguments) => `${args?.property} must be a whole number from ${min} to ${max}`,
    },
  });
}

/**
 * A numeric query parameter: the text must be plain decimal digits (as `:id`) and the
 * number in [min, max]. Any other text stays a string, so the range rule refuses it.
 */
export function QueryInteger(min: number, max: number): PropertyDecorator {
  const toNumber = Transform(({ value }: { value: unknown }) => parseDecimalInteger(value) ?? value);
  const range = IsIntegerInRange(min, max);
  return (target: object, property: string | symbol) => {
    toNumber(target, property);
    range(target, property);
  };
}

const calendarDateMessage = (field: string) =>
  `${field} must be a real date, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss] with an optional offset, e.g. 2026-11-22T10:15:30Z`;

/** A date or date-time (see src/common/dates.ts) that exists in the calendar. */
export function IsCalendarDate(): PropertyDecorator {
  return ValidateBy({
    name: 'isCalendarDate',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isCalendarDateOrDateTime(value),
      defaultMessage: (args?: ValidationArguments) => calendarDateMessage(args?.property ?? 'value'),
    },
  });
}
