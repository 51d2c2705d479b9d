import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file of the console, read once at start. */
export interface ConsoleAsset {
  contentType: string;
  body: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The console's files live in src/console/public and are not copied by either build: both
 * `npm run build` (tsc -p tsconfig.build.json) and `npm run build:test` (tsc -p tsconfig.json)
 * put this module in dist/src/console, three levels below the project root, so the source
 * folder is found from here. A copy next to the compiled module (./public) is preferred when
 * one exists.
 */
export function consoleAssetsDir(): string {
  const candidates = [fileURLToPath(new URL('./public/', import.meta.url)), fileURLToPath(new URL('../../../src/console/public/', import.meta.url))];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`Console files not found; looked in ${candidates.join(' and ')}`);
  return found;
}

/**
 * Reads every servable file of the folder (flat: no subfolders, known extensions only) into
 * memory. Requests are answered from this map by exact name, so no path from a request ever
 * reaches the file system.
 */
export function loadConsoleAssets(dir: string = consoleAssetsDir()): ReadonlyMap<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  for (const name of readdirSync(dir).sort()) {
    const contentType = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (!contentType || !statSync(path).isFile()) continue;
    assets.set(name, { contentType, body: readFileSync(path) });
  }
  return assets;
}

/**
 * The console runs only its own files: no inline script or style, no other origin, no framing.
 * The page calls the API on the same origin.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
  'cross-origin-opener-policy': 'same-origin',
});
