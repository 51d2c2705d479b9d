import type { DataSource, EntityManager } from 'typeorm';
import { CursorFilters, decodeCursor, encodeCursor } from '../common/list-cursor.js';
import { num, numOrNull, placeholders } from '../database/sql.js';
import { AUDIT_ACTIONS, AuditAction, AuditActorType, AuditTargetType } from './audit-actions.js';
import { AuditActor } from './audit-actor.js';
import { maskSecrets } from './audit-mask.js';

/** One change to record. `before` is absent or null for a record that did not exist, `after` for one removed. */
export interface AuditEntry {
  actor: AuditActor;
  action: AuditAction;
  /** The changed record's id (its kind follows from the action); null when the change has no one record (a cache refresh). */
  targetId: number | null;
  before?: unknown;
  after?: unknown;
}

/** A row as read back: the records are the masked JSON that was stored. */
export interface AuditRecord {
  id: number;
  createdAt: number;
  actor: AuditActor;
  clientAddress: string | null;
  requestId: string | null;
  action: AuditAction;
  targetType: AuditTargetType;
  targetId: number | null;
  before: unknown;
  after: unknown;
}

export interface AuditQuery {
  actorKeyId?: number;
  action?: AuditAction;
  targetType?: AuditTargetType;
  targetId?: number;
  from?: number;
  to?: number;
  /** The next_cursor of the previous page; absent: the newest rows. */
  cursor?: string;
  limit: number;
}

export interface AuditPage {
  items: AuditRecord[];
  nextCursor: string | null;
  hasMore: boolean;
}

const COLUMNS = [
  'created_at',
  'actor_type',
  'actor_key_id',
  'actor_name',
  'client_address',
  'request_id',
  'action',
  'target_type',
  'target_id',
  'before_json',
  'after_json',
] as const;
const INSERT = `INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;

/**
 * The audit trail's table, `audit_log`: the only code with SQL on it. A plain class over the
 * DataSource, so that the service (AuditModule provides it) and the keys command
 * (src/cli/keys.ts) write rows the same way. `record` takes the caller's transaction, so a
 * change and its row commit or roll back together.
 */
export class AuditStore {

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Writes one row: who (`entry.actor`), when (now), from where (the address and request id of
   * the actor's request, if any), what (action, target, the records before and after,
   * with every secret masked by maskSecrets).
   */
  async record(entry: AuditEntry, manager: EntityManager = this.dataSource.manager): Promise<void> {
    const origin = entry.actor.origin;
    await manager.query(INSERT, [
      Date.now(),
      entry.actor.type,
      entry.actor.keyId,
      entry.actor.name.slice(0, 100),
      origin?.address?.slice(0, 64) ?? null,
      origin?.requestId ?? null,
      entry.action,
      AUDIT_ACTIONS[entry.action],
      entry.targetId,
      maskedJson(entry.before),
      maskedJson(entry.after),
    ]);
  }

  /**
   * One page, newest first, by keyset on the id, as the execution logs page (and with the same
   * cursor, src/common/list-cursor.ts): rows written while a client pages appear before its
   * first page, never inside the walk.
   */
  async list(query: AuditQuery): Promise<AuditPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      where.push(clause);
      params.push(value);
    };
    if (query.actorKeyId !== undefined) add('actor_key_id = ?', query.actorKeyId);
    if (query.action !== undefined) add('action = ?', query.action);
    if (query.targetType !== undefined) add('target_type = ?', query.targetType);
    if (query.targetId !== undefined) add('target_id = ?', query.targetId);
    if (query.from !== undefined) add('created_at >= ?', query.from);
    if (query.to !== undefined) add('created_at <= ?', query.to);
    const filters = cursorFilters(query);
    if (query.cursor !== undefined) add('id < ?', decodeCursor(query.cursor, filters));
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT id, ${COLUMNS.join(', ')} FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      [...params, query.limit + 1],
    );
    const hasMore = rows.length > query.limit;
    const items = rows.slice(0, query.limit).map(toRecord);
    return { items, hasMore, nextCursor: hasMore ? encodeCursor(items[items.length - 1]!.id, filters) : null };
  }

  /** Ids of audit rows written before `cutoff`, after `afterId`, ascending, at most `limit` (retention, src/retention/). */
  async createdBefore(cutoff: number, afterId: number, limit: number): Promise<number[]> {
    const rows: { id: unknown }[] = await this.dataSource.query('SELECT id FROM audit_log WHERE created_at < ? AND id > ? ORDER BY id LIMIT ?', [cutoff, afterId, limit]);
    return rows.map((row) => num(row.id));
  }

  /** Deletes these audit rows; answers how many went. */
  async purge(ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    await this.dataSource.query(`DELETE FROM audit_log WHERE id IN ${placeholders(1, ids.length)}`, [...ids]);
    return ids.length;
  }

}

function maskedJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(maskSecrets(value));
}

/** The filters a cursor is bound to, after the list's name (see src/common/list-cursor.ts). */
function cursorFilters(query: AuditQuery): CursorFilters {
  return ['audit', query.actorKeyId, query.action, query.targetType, query.targetId, query.from, query.to];
}

function parsed(text: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : null;
}

function toRecord(row: Record<string, unknown>): AuditRecord {
  return {
    id: num(row.id),
    createdAt: num(row.created_at),
    actor: { type: row.actor_type as AuditActorType, keyId: numOrNull(row.actor_key_id), name: String(row.actor_name) },
    clientAddress: (row.client_address as string | null) ?? null,
    requestId: (row.request_id as string | null) ?? null,
    action: row.action as AuditAction,
    targetType: row.target_type as AuditTargetType,
    targetId: numOrNull(row.target_id),
    before: parsed(row.before_json),
    after: parsed(row.after_json),
  };
}
