import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { DirectSql } from '../../src/database/direct-sql.js';
import { LOG_COLUMNS, logValues } from '../../src/execution-logs/execution-log.js';
import { ExecutionLogPartitions, firstIdOfDay, DAY_MS } from '../../src/execution-logs/execution-log-partitions.js';
import { LogDates } from '../../src/execution-logs/log-dates.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * The execution logs' days of ids on each database: rows written over several days, each day
 * with its own ids (on MySQL/MariaDB from the day's first id, a gap of unused ids after each
 * day's last; on SQLite one after another). Counting ids back from the newest and finding where
 * a date falls must step over the gaps and land where plain SQL over the rows says.
 */
forEachDatabaseModule('execution logs over days of ids', {}, (s) => {
  const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
  const now = Date.now();
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  /** Rows per day, oldest day first: one of them empty, one with a single row. */
  const perDay = [40, 0, 25, 1, 30, 60];

  it('counts ids back across the days and finds where dates fall, as SQL over the rows does', async () => {
    const mysql = s.get(DirectSql).mysql;
    if (mysql) {
      // The table as after a week of running: a partition for each past day's ids.
      const days = perDay.slice(0, -1).map((_, i) => today - (perDay.length - 1 - i) * DAY_MS);
      const parts = days.map((day) => `PARTITION p${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')} VALUES LESS THAN (${firstIdOfDay(day + DAY_MS)})`);
      await sql(`ALTER TABLE execution_logs REORGANIZE PARTITION p_history INTO (PARTITION p_history VALUES LESS THAN (${firstIdOfDay(days[0]!)}), ${parts.join(', ')})`);
    }
    let next = 1;
    for (const [i, rows] of perDay.entries()) {
      const day = today - (perDay.length - 1 - i) * DAY_MS;
      if (mysql) next = Math.max(next, firstIdOfDay(day));
      const records = Array.from({ length: rows }, (_, n) => logRecord({ createdAt: day + 3_600_000 + n * 60_000 }));
      // Explicit ids, as the day's AUTO_INCREMENT would hand them out (the migration's p_history holds the days before today).
      for (const record of records) await sql(`INSERT INTO execution_logs (id, ${LOG_COLUMNS.join(', ')}) VALUES (${Array(LOG_COLUMNS.length + 1).fill('?').join(', ')})`, [next++, ...logValues(record)]);
    }
    const ids: number[] = (await sql('SELECT id FROM execution_logs ORDER BY id DESC')).map((row: { id: unknown }) => Number(row.id));
    assert.equal(ids.length, 156);
    const partitions = s.get(ExecutionLogPartitions);
    for (const count of [1, 30, 60, 61, 80, 90, 91, 116, 155, 156, 157, 500]) {
      for (const low of [1, ids[100]!, ids[140]!]) {
        const inRange = ids.filter((id) => id >= low);
        const expected = inRange.length >= count && inRange[count - 1]! > low ? inRange[count - 1]! : null;
        assert.equal(await partitions.lowestOfIds(ids[0]!, count, low), expected, `${count} ids down from the newest, not below ${low}`);
      }
    }
    const dates = s.get(LogDates);
    for (let i = 0; i < perDay.length; i++) {
      for (const hour of [0, 2, 1.5 + 24]) {
        const from = today - (perDay.length - 1 - i) * DAY_MS + hour * 3_600_000;
        const range = await dates.idsDated({ from, to: from + 12 * 3_600_000 });
        const inside: number[] = (await sql('SELECT id FROM execution_logs WHERE created_at >= ? AND created_at <= ?', [from, from + 12 * 3_600_000])).map((row: { id: unknown }) =>
          Number(row.id),
        );
        for (const id of inside) assert.ok(id >= range.low && id <= range.high, `row ${id} of the range from ${new Date(from).toISOString()} within [${range.low}, ${range.high}]`);
      }
    }
  });
});
