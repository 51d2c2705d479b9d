import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Raised when another instance already serves the SQLite file. */
export class SqliteInUseError extends Error {
  constructor(path: string) {
    super(
      `Another instance is serving the SQLite database ${path}. SQLite serves one instance, which is ` +
        'both API and worker; to run several, use MySQL/MariaDB (DATABASE_URL=mysql://… or mariadb://…).',
    );
    this.name = 'SqliteInUseError';
  }
}

export interface InstanceLock {
  release(): void;
}

/**
 * One service instance per SQLite file. The instance holds an exclusive SQLite lock on a small
 * file beside the database for as long as it runs; the operating system drops it when the
 * process ends, however it ends, so a crash never leaves a stale lock behind. The
 * key-management CLI does not take it: it may run beside the service.
 */
export function acquireSqliteInstanceLock(databasePath: string): InstanceLock {
  // The folder holds the handlers' signing secrets: one we create is for its owner only.
  mkdirSync(dirname(databasePath), { recursive: true, mode: 0o700 });
  const lock = new Database(`${databasePath}.instance-lock`, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new SqliteInUseError(databasePath);
    throw error;
  }
  return {
    release() {
      if (!lock.open) return;
      lock.exec('ROLLBACK');
      lock.close();
    },
  };
}
