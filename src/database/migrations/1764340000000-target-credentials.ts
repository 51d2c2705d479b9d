import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Target authentication per handler (src/handlers/handler-credentials.ts), NULL for none:
 * `auth` (the kind and its public settings, JSON), `auth_secret` (password, bearer token or
 * client secret), and the mTLS client certificate, its key and the CA to trust. Nullable
 * columns without a default are a change of the schema only on both databases (no rows
 * copied). The API bounds every value (src/handlers/dto/handler.dto.ts) well below TEXT's
 * 65,535 bytes on MySQL/MariaDB, with room for the secrets to be stored encrypted.
 */
export class TargetCredentials1764340000000 implements MigrationInterface {
  name = 'TargetCredentials1764340000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const column of COLUMNS) await queryRunner.query(`ALTER TABLE handlers ADD COLUMN ${column} TEXT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const column of [...COLUMNS].reverse()) await queryRunner.dropColumn('handlers', column);
  }
}

const COLUMNS = ['auth', 'auth_secret', 'client_cert', 'client_key', 'client_ca'] as const;
