import { accessSync, constants } from 'node:fs';
import { DomainError, FieldProblem } from '../common/errors.js';
import { NetworkPolicy } from '../common/network-policy.js';
import { isValidEventPattern } from '../events/event-patterns.js';
import { HANDLER_LIMITS } from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { assertValidFilter, FilterLimits } from './handler-filter.js';
import { assertTargetAllowed, parseHttpTask } from './handler-target.js';
import { assertValidCredentials } from './handler-credentials.js';
import { resolveScriptPath } from './script-path.js';

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Headers the dispatcher owns: a handler may not override them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-type',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
]);

export function headerProblems(headers: unknown): FieldProblem[] {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    return [{ field: 'headers', message: 'headers must be an object of header name to string value' }];
  }
  const entries = Object.entries(headers as Record<string, unknown>);
  const problems: FieldProblem[] = [];
  if (entries.length > HANDLER_LIMITS.headersMax) {
    problems.push({ field: 'headers', message: `headers may hold at most ${HANDLER_LIMITS.headersMax} entries` });
  }
  for (const [name, value] of entries) {
    const field = `headers.${name}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) problems.push({ field, message: 'is not a valid HTTP header name' });
    else if (RESERVED_HEADERS.has(lower) || lower.startsWith('webhook-')) {
      problems.push({ field, message: 'is set by the dispatcher and cannot be overridden' });
    } else if (typeof value !== 'string' || value.length > 4000 || /[\r\n\0]/.test(value)) {
      problems.push({ field, message: 'must be a string of at most 4000 characters without line breaks' });
    }
  }
  return problems;
}

export interface RuleContext {
  policy: NetworkPolicy;
  scriptsDir: string;
  /** FILTER_MAX_BYTES and FILTER_MAX_DEPTH. */
  filterLimits: FilterLimits;
}

/** Checks a complete handler (after defaults or a merge); throws the first domain error found. */
export function assertValidHandler(handler: HandlerEntity, context: RuleContext): void {
  if (!isValidEventPattern(handler.event)) {
    throw DomainError.field(
      'UNKNOWN_EVENT',
      'event',
      `"${handler.event}" is not a catalog event ID, a group wildcard such as "clients.*", or "*"`,
    );
  }
  const problems = headerProblems(handler.headers);
  if (problems.length > 0) throw new DomainError('VALIDATION_FAILED', 'Request validation failed', problems);
  if (handler.stage === 'after' && handler.onFailure !== null) {
    throw DomainError.field('VALIDATION_FAILED', 'on_failure', 'on_failure applies only to handlers of stage before');
  }
  if (handler.filter !== null) assertValidFilter(handler.filter, context.filterLimits);
  if (handler.type === 'script') {
    const path = resolveScriptPath(context.scriptsDir, handler.task);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw DomainError.field('SCRIPT_NOT_EXECUTABLE', 'task', 'The script is not executable (chmod +x it)');
    }
  } else {
    assertTargetAllowed(parseHttpTask(handler.type, handler.task), context.policy);
  }
  assertValidCredentials(handler, context.policy);
}
