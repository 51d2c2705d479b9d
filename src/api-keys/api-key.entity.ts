import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

@Entity({ name: 'api_keys' })
@Index('uq_api_keys_key_hash', ['keyHash'], { unique: true })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  /** SHA-256 hex of the whole key; the key itself is never stored. */
  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash: string;

  /** The first characters of the key, so operators can tell keys apart. */
  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix: string;

  /** Comma-separated scopes. */
  @Column({ type: 'varchar', length: 100 })
  scopes: string;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'last_used_at', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  lastUsedAt: number | null;

  @Column({ name: 'revoked_at', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  revokedAt: number | null;
}
