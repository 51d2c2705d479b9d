import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

/**
 * One row per handler change, written in the same transaction as the change.
 * Its auto-increment `version` is the change feed every instance polls to keep
 * its handler cache current without reloading everything.
 */
@Entity({ name: 'handler_changes' })
@Index('idx_handler_changes_changed_at', ['changedAt'])
export class HandlerChangeEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  version: number;

  @Column({ name: 'handler_id', type: 'integer' })
  handlerId: number;

  @Column({ name: 'changed_at', type: 'bigint', transformer: epochMs })
  changedAt: number;
}
