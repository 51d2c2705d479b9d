/**
 * admin: everything except script handlers. read: read-only admin views.
 * events: post events only. internal: create, edit, test and delete script handlers.
 * `internal` is deliberately not implied by `admin`: running programs on the host is granted explicitly.
 */
export const SCOPES = ['admin', 'read', 'events', 'internal'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export function parseScopes(text: string): Scope[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(isScope);
}
