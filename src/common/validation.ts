import { ParseIntPipe, ValidationError, ValidationPipe } from '@nestjs/common';
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

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => new DomainError('VALIDATION_FAILED', 'Request validation failed', flattenValidationErrors(errors)),
  });
}

/** `:id` route parameters: a positive integer, or VALIDATION_FAILED naming the field. */
export const idParam = () =>
  new ParseIntPipe({
    exceptionFactory: () => DomainError.field('VALIDATION_FAILED', 'id', 'id must be a positive integer'),
  });
