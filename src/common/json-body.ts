import { DomainError } from './errors.js';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const UNDERSCORE = 0x5f;
// "__proto__" written with every letter escaped as \uXXXX is 54 characters long.
const LONGEST_PROTO_SPELLING = 54;

/** scanJson's answer when the nesting passed `maxDepth` (the scan stops there). */
export const TOO_DEEP = -1;
/**
 * Added to scanJson's answer when some string may decode to "__proto__" (a key or a value;
 * the parsed value tells which). A number rather than an object: no allocation per request.
 */
export const MAY_HAVE_PROTO_KEY = 1 << 20;

/**
 * One linear pass over a JSON text, before JSON.parse: counts the nesting of `{` and `[`
 * outside strings, so that a body nested thousands of levels is refused before anything
 * recursive (class-transformer, class-validator) walks it and overflows the stack. Strings
 * are skipped with indexOf, so text costs little; only short strings starting with `_` or
 * an escape are looked at, for the `__proto__` check. The text's syntax is left to JSON.parse.
 * Answers the deepest nesting (plus MAY_HAVE_PROTO_KEY), or TOO_DEEP.
 */
export function scanJson(text: string, maxDepth: number): number {
  let depth = 0;
  let deepest = 0;
  let mayHaveProtoKey = false;
  const length = text.length;
  let i = 0;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i + 1;
      let end = text.indexOf('"', start);
      while (end !== -1 && isEscaped(text, end)) end = text.indexOf('"', end + 1);
      if (end === -1) break;
      if (!mayHaveProtoKey && end - start >= 9 && end - start <= LONGEST_PROTO_SPELLING) {
        const first = text.charCodeAt(start);
        if ((first === UNDERSCORE || first === BACKSLASH) && decodesToProto(text, start, end)) mayHaveProtoKey = true;
      }
      i = end + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > maxDepth) return TOO_DEEP;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
    i++;
  }
  return mayHaveProtoKey ? deepest + MAY_HAVE_PROTO_KEY : deepest;
}

function isEscaped(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let j = quote - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
  return backslashes % 2 === 1;
}

function decodesToProto(text: string, start: number, end: number): boolean {
  if (end - start === 9) return text.startsWith('__proto__', start);
  try {
    return JSON.parse(text.slice(start - 1, end + 1)) === '__proto__';
  } catch {
    return false;
  }
}

/** The dotted path of the first own `__proto__` key in a parsed value, or null. */
export function findProtoKey(value: unknown, path = ''): string | null {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = findProtoKey(value[index], path ? `${path}.${index}` : String(index));
      if (found !== null) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const here = path ? `${path}.${key}` : key;
    if (key === '__proto__') return here;
    const found = findProtoKey((value as Record<string, unknown>)[key], here);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The request body parser for application/json. An empty body is no body (undefined):
 * routes that take none accept it, and the validation of routes that need one says it is
 * missing. Nesting deeper than `maxDepth` is JSON_TOO_DEEP. A `__proto__` key anywhere is
 * refused as an unknown field: JSON.parse keeps it as an own property, but any later
 * copy by assignment would turn it into a prototype.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.length === 0) return undefined;
  const scan = scanJson(text, maxDepth);
  if (scan === TOO_DEEP) {
    throw DomainError.field('JSON_TOO_DEEP', 'body', `The request body nests objects and arrays deeper than ${maxDepth} levels (MAX_JSON_DEPTH)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's message quotes the body; the caller gets the same generic answer as before.
    throw new DomainError('MALFORMED_JSON', 'The request body is not valid JSON');
  }
  if (scan >= MAY_HAVE_PROTO_KEY) {
    const field = findProtoKey(value);
    if (field !== null) throw new DomainError('VALIDATION_FAILED', 'Request validation failed', [{ field, message: `property ${field} should not exist` }]);
  }
  return value;
}
