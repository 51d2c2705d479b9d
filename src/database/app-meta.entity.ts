import { Column, Entity, PrimaryColumn } from 'typeorm';
import { epochMs } from './columns.js';

/** Small named facts about the installation (e.g. that the first admin key was created). */
@Entity({ name: 'app_meta' })
export class AppMetaEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'varchar', length: 255 })
  value: string;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;
}
