import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { Page } from '../common/pagination.dto.js';
import { insertedId, placeholders } from '../database/sql.js';
import { ExecutionLog, ExecutionLogRecord, LOG_COLUMNS, logValues, LogStatus, rowToLog } from './execution-log.js';

export interface LogQuery {
  handlerId?: number;
  eventsId?: string;
  eventId?: number;
  status?: LogStatus;
  errorText?: string;
  from?: number;
  to?: number;
  page: number;
  perPage: number;
}

const LIST_COLUMNS =
  'id, delivery_id, event_id, events_id, handler_id, handler_name, object_id, stage, attempt, trigger_type, status, response_code, response_body, error, duration_ms, created_at';
const CLEANUP_BATCH = 1000;

@Injectable()
export class ExecutionLogsService {
  private readonly logger = new Logger(ExecutionLogsService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  /** Writes log rows, inside the caller's transaction when one is given. Returns the new id when one record is written. */
  async insert(records: readonly ExecutionLogRecord[], manager: EntityManager = this.dataSource.manager): Promise<number> {
    if (records.length === 0) return 0;
    const sql = `INSERT INTO execution_logs (${LOG_COLUMNS.join(', ')}) VALUES ${placeholders(records.length, LOG_COLUMNS.length)}`;
    const raw = await manager.query(sql, records.flatMap(logValues));
    return insertedId(raw);
  }

  async list(query: LogQuery): Promise<Page<ExecutionLog>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (query.handlerId !== undefined) add('handler_id = ?', query.handlerId);
    if (query.eventsId !== undefined) add('events_id = ?', query.eventsId);
    if (query.eventId !== undefined) add('event_id = ?', query.eventId);
    if (query.status !== undefined) add('status = ?', query.status);
    if (query.errorText !== undefined) add("LOWER(error) LIKE ? ESCAPE '!'", `%${escapeLike(query.errorText.toLowerCase())}%`);
    if (query.from !== undefined) add('created_at >= ?', query.from);
    if (query.to !== undefined) add('created_at <= ?', query.to);
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const [countRow] = await this.dataSource.query(`SELECT COUNT(*) AS total FROM execution_logs ${filter}`, params);
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT ${LIST_COLUMNS} FROM execution_logs ${filter} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...params, query.perPage, (query.page - 1) * query.perPage],
    );
    return { items: rows.map(rowToLog), total: Number(countRow.total), page: query.page, per_page: query.perPage };
  }

  async get(id: number): Promise<ExecutionLog> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT * FROM execution_logs WHERE id = ?', [id]);
    if (rows.length === 0) throw DomainError.field('EXECUTION_LOG_NOT_FOUND', 'id', `Execution log ${id} does not exist`);
    return rowToLog(rows[0]!);
  }

  /** Deletes rows older than the retention period, a batch at a time so no lock is held for long. */
  async removeExpired(now = Date.now()): Promise<number> {
    const cutoff = now - this.config.logs.retentionDays * 86_400_000;
    let removed = 0;
    for (;;) {
      const rows: { id: number }[] = await this.dataSource.query(
        'SELECT id FROM execution_logs WHERE created_at < ? ORDER BY id LIMIT ?',
        [cutoff, CLEANUP_BATCH],
      );
      if (rows.length === 0) break;
      const ids = rows.map((row) => Number(row.id));
      await this.dataSource.query(`DELETE FROM execution_logs WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
      removed += ids.length;
      if (rows.length < CLEANUP_BATCH) break;
    }
    if (removed > 0) this.logger.log(`Removed ${removed} execution logs older than ${this.config.logs.retentionDays} days`);
    return removed;
  }
}

function escapeLike(text: string): string {
  return text.replace(/[!%_]/g, (c) => `!${c}`);
}
