import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Binary collations that compare bytes and do not pad: `k` and `k ` differ, as do `K` and `k`
 * and `café` and `cafe`. MySQL 8 has the first, MariaDB the second; utf8mb4_bin is not enough,
 * being a PAD SPACE collation (trailing spaces are ignored when it compares).
 */
const NO_PAD_BINARY = ['utf8mb4_0900_bin', 'utf8mb4_nopad_bin'];

/** The first of NO_PAD_BINARY this server offers. */
async function noPadBinaryCollation(queryRunner: QueryRunner): Promise<string> {
  const rows: { name: string }[] = await queryRunner.query(
    `SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (${NO_PAD_BINARY.map(() => '?').join(', ')})`,
    NO_PAD_BINARY,
  );
  const found = NO_PAD_BINARY.find((name) => rows.some((row) => row.name === name));
  if (!found) throw new Error(`The server offers none of the collations ${NO_PAD_BINARY.join(', ')} (MySQL 8 or MariaDB 10.6+ is required)`);
  return found;
}

/**
 * 1. Idempotency keys compare byte for byte on every database. SQLite already does (BINARY);
 *    MySQL/MariaDB compared them under the database's collation, so with utf8mb4_general_ci
 *    `FzKey-1` and `fzkey-1` were one key to the unique index but two to the service, and the
 *    second post failed with a 500.
 * 2. `request_hash`: a hash of what the first post of a key asked for, so a reuse of the key
 *    with a different request is refused (IDEMPOTENCY_KEY_REUSED) instead of answered with the
 *    first event. NULL for events stored before: those keys replay as before.
 * 3. Handler headers on MySQL/MariaDB become MEDIUMTEXT: 20 headers of 4,000 characters are
 *    more than TEXT's 65,535 bytes as JSON. SQLite's TEXT has no such bound. The entity keeps
 *    `text` (SQLite knows no MEDIUMTEXT); test/integration/schema.test.ts checks this column.
 *
 * Type and collation changes are written as MODIFY: TypeORM's changeColumn drops and re-adds a
 * column whose type changes, which would lose the data.
 */
export class ExactKeysAndLargeHeaders1764200000000 implements MigrationInterface {
  name = 'ExactKeysAndLargeHeaders1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Plain ADD COLUMN: TypeORM's addColumn rebuilds a SQLite table by copying every row, and
    // `events` may be large; a nullable column without a default is a change of the schema only.
    const sqlite = queryRunner.connection.options.type === 'better-sqlite3';
    // Asked before any change: MySQL commits each ALTER at once, so a refusal after the first
    // would leave a half-applied migration that every later start trips over.
    const collation = sqlite ? null : await noPadBinaryCollation(queryRunner);
    await queryRunner.query('ALTER TABLE events ADD COLUMN request_hash VARCHAR(64) NULL');
    if (collation === null) return;
    await queryRunner.query(`ALTER TABLE events MODIFY idempotency_key VARCHAR(200) CHARACTER SET utf8mb4 COLLATE ${collation} NULL`);
    await queryRunner.query('ALTER TABLE handlers MODIFY headers MEDIUMTEXT NOT NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type !== 'better-sqlite3') {
      // Headers longer than TEXT holds would be cut: refuse rather than lose them.
      const [row] = await queryRunner.query('SELECT COUNT(*) AS n FROM handlers WHERE LENGTH(headers) > 65535');
      if (Number(row?.n ?? 0) > 0) throw new Error('Some handlers have more header data than TEXT holds; shorten their headers before reverting');
      await queryRunner.query('ALTER TABLE handlers MODIFY headers TEXT NOT NULL');
      // Back to the table's default collation (keys that differ only in case or trailing spaces then collide).
      const [table] = await queryRunner.query(
        'SELECT TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        ['events'],
      );
      await queryRunner.query(`ALTER TABLE events MODIFY idempotency_key VARCHAR(200) CHARACTER SET utf8mb4 COLLATE ${String(table.collation)} NULL`);
    }
    await queryRunner.dropColumn('events', 'request_hash');
  }
}
