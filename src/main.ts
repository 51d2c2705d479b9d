import './telemetry/start.js';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { Logger } from '@nestjs/common';
import { createApp, shutDown } from './app.factory.js';
import { ConfigError } from './config/environment.js';
import { loadConfig } from './config/app-config.js';
import { SqliteInUseError } from './database/sqlite-instance-lock.js';
import { ScriptUserError } from './calls/script-user.js';
import { stopTracing } from './telemetry/tracing.js';
import { SecretsKeyError } from './secrets/secrets-key.js';

// Start a full collection once the old generation is 1.5 times what survived the last one (V8 lets
// small heaps reach 4 times): a busy dispatcher promotes short-lived objects at a high rate, and
// this keeps its resident size near the working set for a little more GC time.
setFlagsFromString('--heap-growing-percent=50');

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  let app;
  try {
    app = await createApp(config);
  } catch (error) {
    if (error instanceof SqliteInUseError || error instanceof ScriptUserError || error instanceof SecretsKeyError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  await app.listen(config.http.port, config.http.host);
  const shown = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const logger = new Logger('Main');
  // What an operator needs next, together and last: where to sign in and with which key. The
  // key notice comes before the Swagger UI line, which scripts and tests wait for.
  const text = config.log.format === 'text';
  if (text) process.stdout.write('\n');
  logger.log(`Provisioning API listening on http://${shown}:${port}`);
  logger.log(adminKeyNotice(config.auth));
  logger.log(`Console: http://${shown}:${port}/console`);
  logger.log(`Swagger UI: http://${shown}:${port}/docs (OpenAPI JSON at /docs-json)`);
  logger.log(`Database: ${config.database.type === 'sqlite' ? `SQLite ${config.database.path}` : 'MySQL/MariaDB'}`);
  logger.log(secretsKeyNotice(config.secrets));
  if (text) process.stdout.write('\n');
  if (config.database.type === 'sqlite' && config.dispatch.role !== 'both') {
    const undone = config.dispatch.role === 'api' ? 'nothing is delivered' : 'no events can be posted';
    logger.warn(`INSTANCE_ROLE=${config.dispatch.role} on SQLite: no other instance can share this database, so ${undone} while this one runs`);
  }

  // Graceful shutdown: close the app (stops schedules, drains Nest's shutdown hooks), then exit 0.
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      if (closing) return;
      closing = true;
      logger.log(`${signal} received: shutting down`);
      // The last spans are flushed after the app closed (a no-op when tracing is off).
      shutDown(app)
        .then(() => stopTracing())
        .then(
          () => process.exit(0),
          (error: Error) => {
            logger.error(`Shutdown failed: ${error.message}`);
            process.exit(1);
          },
        );
    });
  }
}

/** Where the first admin key is, as far as this process can tell (the key itself is never logged). */
function adminKeyNotice(auth: { bootstrapAdminKey?: string; adminKeyFile: string }): string {
  if (existsSync(auth.adminKeyFile)) return `First admin key: in ${auth.adminKeyFile} (readable by its owner only); store it safely, then delete the file`;
  if (auth.bootstrapAdminKey) return 'First admin key: the value of BOOTSTRAP_ADMIN_KEY';
  return 'API keys: npm run keys -- create --name NAME --scopes admin (or read, events, internal); npm run keys -- list';
}

/** Where the key of the secrets stored in the database is (never the key itself). */
function secretsKeyNotice(secrets: { key?: string; keyFile: string | null }): string {
  if (secrets.key !== undefined) return 'Secrets key: the value of SECRETS_KEY';
  if (secrets.keyFile === null) return 'Secrets key: held in memory, as the in-memory database is';
  return `Secrets key: in ${secrets.keyFile} (readable by its owner only); back it up apart from the database`;
}

main().catch((error: unknown) => {
  process.stderr.write(`Provisioning API failed to start: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
