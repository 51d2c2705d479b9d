import { Global, Logger, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { SecretBox } from './secret-box.js';
import { loadSecretKeys } from './secrets-key.js';
import { prepareStoredSecrets } from './stored-secrets.js';

/**
 * The SecretBox every owner of a secret column injects. It exists only once the stored
 * secrets are readable with it: its factory loads the keys (generating the key file on a
 * fresh install), then runs the start-up step over the stored secrets, which refuses the
 * start with a SecretsKeyError when a value cannot be read. Providers are built before any
 * lifecycle hook runs, so no cache load or request sees a secret before this step.
 */
async function openSecretBox(config: AppConfig, dataSource: DataSource): Promise<SecretBox> {
  const logger = new Logger('Secrets');
  const { box, source } = await loadSecretKeys(config.secrets);
  if (source.kind === 'file' && source.generated) {
    logger.log(`Secrets key generated into ${source.path} (readable by its owner only): back it up apart from the database, which cannot be read without it`);
  }
  const report = await prepareStoredSecrets(dataSource, box);
  if (report.encrypted > 0) logger.log(`Encrypted ${report.encrypted} stored secret(s) written before encryption at rest, with key ${box.current.id}`);
  if (report.vacuumed === true) logger.log('Rebuilt the SQLite file (VACUUM): no plain copy of a secret is left in its free pages');
  else if (report.vacuumed !== undefined) {
    logger.warn(`Could not rebuild the SQLite file (VACUUM: ${report.vacuumed}): free pages may still hold secrets from before encryption; run VACUUM with the service stopped`);
  }
  if (report.reencrypted > 0) logger.log(`Re-encrypted ${report.reencrypted} stored secret(s) with key ${box.current.id} (${box.current.origin})`);
  if (box.previous.length > 0) {
    logger.log(`No stored secret needs SECRETS_KEY_PREVIOUS (${box.previous.map((key) => key.id).join(', ')}) any more: remove it once every instance runs with key ${box.current.id}`);
  }
  return box;
}

@Global()
@Module({
  providers: [{ provide: SecretBox, inject: [AppConfig, DataSource], useFactory: openSecretBox }],
  exports: [SecretBox],
})
export class SecretsModule {}
