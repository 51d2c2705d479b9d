import { readFileSync } from 'node:fs';

/**
 * The error codes docs/errors.md documents, with their status, read from its table rows
 * (| `CODE` | status | when |). Throws when a code is listed twice.
 */
export function documentedErrorCodes(path = 'docs/errors.md'): Map<string, number> {
  const text = readFileSync(path, 'utf8');
  const codes = new Map<string, number>();
  for (const match of text.matchAll(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(\d{3})\s*\|/gm)) {
    const [, code, status] = match;
    if (codes.has(code!)) throw new Error(`docs/errors.md lists ${code} twice`);
    codes.set(code!, Number(status));
  }
  return codes;
}
