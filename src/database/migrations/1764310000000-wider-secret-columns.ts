import { MigrationInterface, QueryRunner } from 'typeorm';

const SECRET_COLUMNS = ['signing_secret', 'previous_secret'];

/**
 * Room for encrypted secrets: a signing secret sealed as `enc:v1:<key id>:<iv>:<tag>:<ciphertext>`
 * (src/secrets/secret-box.ts) is about 125 characters, more than the 100 these columns had.
 * The values themselves are encrypted at start, not here: a migration has no access to the key
 * (src/secrets/stored-secrets.ts).
 *
 * MySQL/MariaDB widen in place (MODIFY keeps the data). SQLite does not enforce a VARCHAR
 * length but records the declared type, which the entity check compares
 * (test/integration/schema.test.ts): TypeORM rebuilds the table, a small one, to change it.
 */
export class WiderSecretColumns1764310000000 implements MigrationInterface {
  name = 'WiderSecretColumns1764310000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await this.resize(queryRunner, 255);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Encrypted values do not fit 100 characters: refuse rather than cut them.
    const [row] = await queryRunner.query(
      `SELECT COUNT(*) AS n FROM handlers WHERE ${SECRET_COLUMNS.map((column) => `LENGTH(${column}) > 100`).join(' OR ')}`,
    );
    if (Number(row?.n ?? 0) > 0) throw new Error('Some handlers hold encrypted secrets longer than 100 characters; the columns cannot be narrowed');
    await this.resize(queryRunner, 100);
  }

  private async resize(queryRunner: QueryRunner, length: number): Promise<void> {
    if (queryRunner.connection.options.type !== 'better-sqlite3') {
      for (const column of SECRET_COLUMNS) await queryRunner.query(`ALTER TABLE handlers MODIFY ${column} VARCHAR(${length}) NULL DEFAULT NULL`);
      return;
    }
    const table = await queryRunner.getTable('handlers');
    if (!table) throw new Error('The handlers table is missing');
    await queryRunner.changeColumns(
      table,
      SECRET_COLUMNS.map((name) => {
        const old = table.findColumnByName(name)!;
        const wider = old.clone();
        wider.length = String(length);
        return { oldColumn: old, newColumn: wider };
      }),
    );
  }
}
