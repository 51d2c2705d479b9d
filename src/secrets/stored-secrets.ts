import { DataSource } from 'typeorm';
import { AppMetaEntity } from '../database/app-meta.entity.js';
import { isSealed, SecretBox, SecretUnreadableError } from './secret-box.js';
import { SecretsKeyError } from './secrets-key.js';
import { SEALED_COLUMNS, SealedColumn } from './sealed-columns.js';

/**
 * A known text sealed with the key in use, kept in app_meta: an instance started with another
 * key is refused even while no secret is stored yet, so two instances can never write with two
 * different keys into one database.
 */
const KEY_CHECK = 'secrets_key_check';
const KEY_CHECK_TEXT = 'provisioning-api secrets key check';
const BATCH = 500;

export interface StoredSecretsReport {
  /** Values written before encryption (plain text), now encrypted with the current key. */
  encrypted: number;
  /** Values of a previous key, now encrypted with the current key. */
  reencrypted: number;
  /** Values checked in all (every one opened with its key). */
  checked: number;
  /** SQLite after an upgrade: true when the file was rebuilt, or why it could not be. */
  vacuumed?: true | string;
}

/**
 * The start-up step, before anything loads a secret: every sealed column is read in batches
 * of 500; plain text (an install from before encryption) is encrypted, a value of a previous
 * key is re-encrypted with the current one, and every value must open with the key it names,
 * or the start is refused with a SecretsKeyError that says which key it needs. Updates compare
 * the value read, so a secret rotated meanwhile by another instance is never overwritten, and
 * each batch is one transaction (SQLite syncs once per batch, not once per row).
 *
 * On SQLite the replaced values must not linger in the file: the step runs with `secure_delete`
 * (freed space is zeroed, so a value moved within its page leaves no copy) and ends, when it
 * changed anything, with a checkpoint that copies the new pages into the database file and
 * truncates the write-ahead log. When it found plain text (the first start after an upgrade),
 * the file is also rebuilt (VACUUM), once: an older install's free pages still hold the plain
 * secrets of deleted handlers, of rotations, and of the handlers table the migration rebuilt.
 */
export async function prepareStoredSecrets(
  dataSource: DataSource,
  box: SecretBox,
  columns: readonly SealedColumn[] = SEALED_COLUMNS,
): Promise<StoredSecretsReport> {
  const report: StoredSecretsReport = { encrypted: 0, reencrypted: 0, checked: 0 };
  const sqlite = dataSource.options.type === 'better-sqlite3';
  const secureDelete = sqlite ? Number((await dataSource.query('PRAGMA secure_delete'))[0]?.secure_delete ?? 0) : 0;
  if (sqlite) await dataSource.query('PRAGMA secure_delete = ON');
  try {
    await checkKey(dataSource, box, report);
    for (const column of columns) await sealColumn(dataSource, box, column, report);
    if (sqlite && report.encrypted > 0) report.vacuumed = await vacuum(dataSource);
    if (sqlite && report.encrypted + report.reencrypted > 0) await dataSource.query('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    if (sqlite) await dataSource.query(`PRAGMA secure_delete = ${secureDelete === 1 ? 'ON' : 'OFF'}`);
  }
  return report;
}

/** One column, in batches by id. */
async function sealColumn(dataSource: DataSource, box: SecretBox, { table, column }: SealedColumn, report: StoredSecretsReport): Promise<void> {
  let after = 0;
  for (;;) {
    const rows: { id: number | string; value: string }[] = await dataSource.query(
      `SELECT id, ${column} AS value FROM ${table} WHERE id > ? AND ${column} IS NOT NULL ORDER BY id LIMIT ${BATCH}`,
      [after],
    );
    if (rows.length === 0) break;
    const updates: { id: number; from: string; to: string }[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      const value = String(row.value);
      report.checked += 1;
      if (!isSealed(value)) {
        updates.push({ id, from: value, to: box.seal(value) });
        report.encrypted += 1;
        continue;
      }
      const plaintext = openOrRefuse(box, value, `${table}.${column} of row ${id}`);
      if (!box.isCurrent(value)) {
        updates.push({ id, from: value, to: box.seal(plaintext) });
        report.reencrypted += 1;
      }
    }
    if (updates.length > 0) {
      await dataSource.transaction(async (manager) => {
        for (const update of updates) {
          await manager.query(`UPDATE ${table} SET ${column} = ? WHERE id = ? AND ${column} = ?`, [update.to, update.id, update.from]);
        }
      });
    }
    after = Number(rows[rows.length - 1]!.id);
    if (rows.length < BATCH) break;
  }
}

/**
 * Rebuilds the SQLite file without its free pages. It needs as much free disk space as the
 * database takes: a failure is reported, not fatal (the secrets are encrypted already).
 */
async function vacuum(dataSource: DataSource): Promise<true | string> {
  try {
    await dataSource.query('VACUUM');
    return true;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The key check: created on a fresh database, opened (and moved to the current key) on every start. */
async function checkKey(dataSource: DataSource, box: SecretBox, report: StoredSecretsReport): Promise<void> {
  const meta = dataSource.getRepository(AppMetaEntity);
  let row = await meta.findOne({ where: { name: KEY_CHECK } });
  if (!row) {
    try {
      await meta.insert({ name: KEY_CHECK, value: box.seal(KEY_CHECK_TEXT), updatedAt: Date.now() });
      return;
    } catch (error) {
      // Another instance created it first: it must be readable with our keys as well.
      row = await meta.findOne({ where: { name: KEY_CHECK } });
      if (!row) throw error;
    }
  }
  const text = openOrRefuse(box, row.value, "the database's key check (app_meta)");
  if (text !== KEY_CHECK_TEXT) throw new SecretsKeyError(refusal("the database's key check (app_meta): it holds another text", box));
  if (!box.isCurrent(row.value)) {
    await dataSource.query('UPDATE app_meta SET value = ?, updated_at = ? WHERE name = ? AND value = ?', [box.seal(KEY_CHECK_TEXT), Date.now(), KEY_CHECK, row.value]);
    report.reencrypted += 1;
  }
}

function openOrRefuse(box: SecretBox, value: string, where: string): string {
  try {
    return box.open(value);
  } catch (error) {
    if (error instanceof SecretUnreadableError) throw new SecretsKeyError(refusal(`${where}: ${error.message}`, box));
    throw error;
  }
}

/** One line: what cannot be read, with which keys, and what to do. Key ids only, never a key or a value. */
function refusal(problem: string, box: SecretBox): string {
  return (
    `Cannot read the secrets stored in the database: ${problem}. ` +
    `This instance has ${box.describeKeys()}. ` +
    'Start it with the key that encrypted them as SECRETS_KEY (or in SECRETS_KEY_PREVIOUS during a rotation); see "Secrets at rest" in README.md'
  );
}
