/**
 * Every database column that holds a secret, stored sealed (src/secrets/secret-box.ts). The
 * owner of each column seals what it writes and opens what it loads; the start-up step
 * (src/secrets/stored-secrets.ts) walks these columns to encrypt values written before
 * encryption existed, re-encrypt values of a previous key, and refuse to start when one
 * cannot be read. A new secret column (a target credential, say) is added here; its table
 * needs an integer primary key `id`.
 */
export interface SealedColumn {
  readonly table: string;
  readonly column: string;
}

export const SEALED_COLUMNS: readonly SealedColumn[] = Object.freeze([
  { table: 'handlers', column: 'signing_secret' },
  { table: 'handlers', column: 'previous_secret' },
  { table: 'handlers', column: 'auth_secret' },
  { table: 'handlers', column: 'client_key' },
]);
