import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { epochMs } from '../database/columns.js';

export const PAUSE_KINDS = ['manual', 'window'] as const;
export type PauseKind = (typeof PAUSE_KINDS)[number];

/**
 * A pause of a handler: manual (from the moment it was asked for, until a time or until
 * resumed) or a scheduled maintenance window (from … to …). The handler is paused while any of
 * its rows covers the time: its deliveries wait, none is skipped.
 */
@Entity({ name: 'handler_pauses' })
@Index('idx_handler_pauses_handler', ['handlerId', 'startsAt'])
export class HandlerPauseEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ name: 'handler_id', type: 'integer' })
  handlerId: number;

  @Column({ type: 'varchar', length: 16 })
  kind: PauseKind;

  @Column({ name: 'starts_at', type: 'bigint', transformer: epochMs })
  startsAt: number;

  /** Null: until resumed. */
  @Column({ name: 'ends_at', type: 'bigint', nullable: true, default: null, transformer: epochMs })
  endsAt: number | null;

  @Column({ type: 'varchar', length: 500, nullable: true, default: null })
  reason: string | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  /**
   * 1 once the pause's beginning is told (provisioning.handler.paused, or another pause of the
   * handler in force then was): a manual pause when it is asked for, a window by the check of
   * HandlerPausesService when its start has come. Its end is told only if it was.
   */
  @Column({ type: 'integer', default: 0 })
  announced: number;
}
