import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `handler_pauses.announced`: 1 once the pause's beginning has been emitted as
 * provisioning.handler.paused (or was in force with another one that had), so that the
 * beginnings and ends of maintenance windows and the end of a timed pause, which happen by the
 * clock, are each emitted once, by the one instance whose step changed the row
 * (src/handlers/handler-pauses.service.ts).
 *
 * Manual pauses already here were announced by the API when they were asked for. Windows were
 * never announced: those in force now are announced at the first check after the upgrade, so
 * a receiver gets their beginning (late) before their end.
 */
export class PauseAnnouncements1765700000000 implements MigrationInterface {
  name = 'PauseAnnouncements1765700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE handler_pauses ADD COLUMN announced integer NOT NULL DEFAULT 0');
    await queryRunner.query("UPDATE handler_pauses SET announced = 1 WHERE kind = 'manual'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE handler_pauses DROP COLUMN announced');
  }
}
