import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `events.trace_parent`: the W3C traceparent of the ingest span when tracing is on
 * (src/telemetry/tracing.ts), so a worker — in this process or another — continues the posting
 * request's trace into the webhook call. NULL when tracing is off.
 */
export class EventTraceParent1764900000000 implements MigrationInterface {
  name = 'EventTraceParent1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE events ADD COLUMN trace_parent VARCHAR(55) NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE events DROP COLUMN trace_parent');
  }
}
