import { createHash } from 'node:crypto';
import { DomainError } from './errors.js';
import { MAX_ID } from './validation.js';

/**
 * The `cursor` of the keyset-paged lists (execution logs, audit trail): where the next page
 * starts, opaque to clients.
 *
 * It is base64url (no padding) of `v1:<id>:<check>`, where `<id>` is the id of the last row the
 * page showed (the next page holds the rows with a smaller id: the lists are `ORDER BY id DESC`)
 * and `<check>` is 16 hex digits of SHA-256 over the version, the id and the list's filters.
 * The check is not a secret (a cursor grants nothing: the caller may list every row anyway);
 * it makes an edited cursor, or one sent with other filters than the page it came from, an
 * INVALID_CURSOR instead of a silently different list. A list other than the execution logs
 * puts its own name first among its filters, so a cursor of one list is refused by another.
 */
export const CURSOR_VERSION = 'v1';
/** Longer text is never a cursor this service wrote (a v1 cursor is at most 60 characters). */
export const MAX_CURSOR_LENGTH = 200;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const PAYLOAD = /^([a-z0-9]{1,8}):([^:]*):([^:]*)$/;
const DECIMAL_ID = /^[1-9][0-9]{0,15}$/;
const CHECK = /^[0-9a-f]{16}$/;

/** The filters a cursor is bound to, in a fixed order; absent ones are null. */
export type CursorFilters = readonly (string | number | null | undefined)[];

function check(id: number, filters: CursorFilters): string {
  const text = JSON.stringify([CURSOR_VERSION, id, ...filters.map((value) => value ?? null)]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function encodeCursor(id: number, filters: CursorFilters): string {
  return Buffer.from(`${CURSOR_VERSION}:${id}:${check(id, filters)}`, 'utf8').toString('base64url');
}

const invalid = (message: string) => DomainError.field('INVALID_CURSOR', 'cursor', message);

/** The id a cursor points after, or INVALID_CURSOR saying what is wrong with it. */
export function decodeCursor(cursor: string, filters: CursorFilters): number {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) {
    throw invalid('cursor must be a next_cursor value this list returned, unchanged');
  }
  const bytes = Buffer.from(cursor, 'base64url');
  // Only the canonical spelling: base64url that decodes to the same bytes differently written is refused.
  if (bytes.toString('base64url') !== cursor) throw invalid('cursor must be a next_cursor value this list returned, unchanged');
  const match = PAYLOAD.exec(bytes.toString('latin1'));
  if (!match) throw invalid('cursor must be a next_cursor value this list returned, unchanged');
  const [, version, idText, checkText] = match;
  if (version !== CURSOR_VERSION) throw invalid(`cursor is of version ${version}; this service reads ${CURSOR_VERSION} cursors only`);
  if (!DECIMAL_ID.test(idText!) || Number(idText) > MAX_ID) throw invalid('cursor points at a position out of range');
  const id = Number(idText);
  if (!CHECK.test(checkText!) || checkText !== check(id, filters)) {
    throw invalid('cursor was edited, or was given with other filters than the page it came from: send the same filters with every page');
  }
  return id;
}
