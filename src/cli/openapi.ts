/**
 * Writes the OpenAPI document to docs/openapi.json (npm run openapi), so that API changes
 * show up in review. Boots the app on an in-memory SQLite database; nothing is written elsewhere.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createApp, buildOpenApiDocument } from '../app.factory.js';
import { loadConfig } from '../config/app-config.js';

async function main(): Promise<void> {
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    BOOTSTRAP_ADMIN_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'error',
  });
  const app = await createApp(config);
  await app.init();
  const document = buildOpenApiDocument(app);
  await app.close();
  mkdirSync('docs', { recursive: true });
  writeFileSync('docs/openapi.json', `${JSON.stringify(document, null, 2)}\n`);
  process.stdout.write(`Wrote docs/openapi.json (${Object.keys(document.paths).length} paths)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
