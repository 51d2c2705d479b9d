import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';
import { epochColumn, idColumn, varchar } from './1763800000000-initial-schema.js';

/**
 * Flow control per handler (src/dispatcher/flow-control.ts):
 * 1. Settings on `handlers`: a cap on the deliveries one worker holds for the handler, and a
 *    rate limit (`rate_limit` calls per `rate_period`); NULL means the configured default and
 *    no limit.
 * 2. State on `handlers`, shared by every worker: the rate limiter's theoretical arrival time
 *    (`rate_tat`, GCRA), a hold until a Retry-After ends (`hold_until`), and the circuit
 *    breaker (state, since, reason, consecutive failures, consecutive opens, when the next
 *    probe may go).
 * 3. `handler_pauses`: manual pauses (open-ended or with an end) and scheduled maintenance
 *    windows; a handler is paused while one of its rows covers the time.
 * 4. Deliveries by state and handler in due order, so a claim takes each handler's share with
 *    one short range read and skips a held handler's backlog without reading it.
 */
export class HandlerFlowControl1764400000000 implements MigrationInterface {
  name = 'HandlerFlowControl1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Plain ALTER TABLE … ADD COLUMN: on SQLite, QueryRunner.addColumns copies the table from
    // its own idea of the columns, which misses those earlier migrations added in plain SQL
    // (1764320000000, 1764340000000, …) and so would drop them with their data.
    for (const column of COLUMNS) await queryRunner.query(`ALTER TABLE handlers ADD COLUMN ${column}`);
    await queryRunner.createTable(
      new Table({
        name: 'handler_pauses',
        columns: [
          idColumn(),
          { name: 'handler_id', type: 'integer' },
          varchar('kind', 16),
          epochColumn('starts_at'),
          epochColumn('ends_at', true),
          varchar('reason', 500, true),
          epochColumn('created_at'),
        ],
        indices: [new TableIndex({ name: 'idx_handler_pauses_handler', columnNames: ['handler_id', 'starts_at'] })],
      }),
    );
    await queryRunner.createIndex(
      'deliveries',
      new TableIndex({ name: 'idx_deliveries_handler_due', columnNames: ['status', 'handler_id', 'next_attempt_at', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('deliveries', 'idx_deliveries_handler_due');
    await queryRunner.dropTable('handler_pauses');
    for (const column of [
      'circuit_retry_at', 'circuit_opens', 'circuit_failures', 'circuit_reason', 'circuit_since', 'circuit_state',
      'hold_until', 'rate_tat', 'rate_period', 'rate_limit', 'max_concurrency',
    ]) {
      await queryRunner.dropColumn('handlers', column);
    }
  }
}

/** The columns `up` adds to `handlers`, as SQL both databases read alike. */
const COLUMNS = [
  'max_concurrency integer NULL',
  'rate_limit integer NULL',
  'rate_period varchar(8) NULL',
  'rate_tat bigint NULL',
  'hold_until bigint NULL',
  "circuit_state varchar(16) NOT NULL DEFAULT 'closed'",
  'circuit_since bigint NULL',
  'circuit_reason varchar(500) NULL',
  'circuit_failures integer NOT NULL DEFAULT 0',
  'circuit_opens integer NOT NULL DEFAULT 0',
  'circuit_retry_at bigint NULL',
] as const;
