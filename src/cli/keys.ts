/**
 * Key management from the command line, for operators with access to the database:
 *   npm run keys -- create --name "billing core" --scopes events
 *   npm run keys -- list
 *   npm run keys -- revoke <id>
 * Reads the same configuration (DATABASE_URL, ...) as the service and runs pending migrations first.
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config.js';
import { ConfigError } from '../config/environment.js';
import { buildDataSourceOptions } from '../database/data-source.js';
import { ApiKeyStore } from '../api-keys/api-key-store.js';
import { AuditStore } from '../audit/audit-store.js';
import { cliActor } from '../audit/audit-actor.js';
import { isScope, SCOPES, Scope } from '../api-keys/scopes.js';
import { parseDecimalInteger } from '../common/validation.js';

const USAGE = `usage:
  npm run keys -- create --name NAME --scopes SCOPE[,SCOPE...]   (scopes: ${SCOPES.join(', ')})
  npm run keys -- list
  npm run keys -- revoke ID`;

class UsageError extends Error {}

async function run(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' } },
  });
  const [command, argument] = positionals;
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new UsageError(USAGE);

  const config = loadConfig(process.env);
  const dataSource = new DataSource({ ...buildDataSourceOptions(config.database), logging: false });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
    // Keys made and revoked here are audited with the command as the actor (src/audit/audit-actor.ts).
    const store = new ApiKeyStore(dataSource, new AuditStore(dataSource));
    if (command === 'create') {
      const name = values.name?.trim();
      const scopes = (values.scopes ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      if (!name || name.length > 100) throw new UsageError(`--name is required (1 to 100 characters)\n${USAGE}`);
      const unknown = scopes.filter((s) => !isScope(s));
      if (scopes.length === 0 || unknown.length > 0) {
        throw new UsageError(`--scopes must list one or more of ${SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
      }
      const { key, record } = await store.create(name, scopes as Scope[], cliActor());
      process.stdout.write(`Created key ${record.id} "${record.name}" with scopes ${record.scopes}.\n`);
      process.stdout.write(`Key (shown once, store it now):\n${key}\n`);
    } else if (command === 'list') {
      const rows = await store.list();
      process.stdout.write('id\tprefix\tscopes\tstatus\tcreated\tname\n');
      for (const row of rows) {
        const status = row.revokedAt === null ? 'active' : `revoked ${new Date(row.revokedAt).toISOString()}`;
        process.stdout.write(`${row.id}\t${row.keyPrefix}\t${row.scopes}\t${status}\t${new Date(row.createdAt).toISOString()}\t${row.name}\n`);
      }
    } else {
      // The same rule as the API's ids: decimal digits only, so `0x1` or `1e0` never name key 1.
      const id = parseDecimalInteger(argument);
      if (id === undefined || id < 1) throw new UsageError(`revoke needs a key id in decimal digits\n${USAGE}`);
      const record = await store.revoke(id, cliActor());
      if (!record) throw new UsageError(`No API key with id ${id}`);
      process.stdout.write(`Revoked key ${id} "${record.name}".\n`);
    }
  } finally {
    await dataSource.destroy();
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`keys: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
