import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The circuit breaker's failure-rate rule (CIRCUIT_FAILURE_RATE, src/dispatcher/flow-control.ts):
 * a tumbling window of each handler's calls on `handlers`, shared by every worker: when the
 * window began (NULL: none yet, or reset when the circuit closed), the calls made in it and
 * how many of them failed. Written only while the rule is on.
 */
export class CircuitFailureRate1765600000000 implements MigrationInterface {
  name = 'CircuitFailureRate1765600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Plain ALTER TABLE … ADD COLUMN, as in 1764400000000 (QueryRunner.addColumns would copy the SQLite table).
    for (const column of COLUMNS) await queryRunner.query(`ALTER TABLE handlers ADD COLUMN ${column}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const column of ['circuit_window_failures', 'circuit_window_calls', 'circuit_window_start']) {
      await queryRunner.query(`ALTER TABLE handlers DROP COLUMN ${column}`);
    }
  }
}

/** The columns `up` adds to `handlers`, as SQL both databases read alike. */
const COLUMNS = ['circuit_window_start bigint NULL', 'circuit_window_calls integer NOT NULL DEFAULT 0', 'circuit_window_failures integer NOT NULL DEFAULT 0'] as const;
