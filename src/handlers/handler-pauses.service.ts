import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource, EntityManager, In, LessThanOrEqual } from 'typeorm';
import { Clock } from '../common/clock.js';
import { startCronJob } from '../common/cron-job.js';
import { DomainError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { DirectSql, Row } from '../database/direct-sql.js';
import { isMysql, num, numOrNull, placeholders } from '../database/sql.js';
import type { Statement } from './handler-flow.js';
import { Principal } from '../api-keys/auth.decorators.js';
import { CreateMaintenanceWindowDto, HANDLER_LIMITS, HandlerDto, MaintenanceWindowDto, PauseHandlerDto } from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { HandlerPauseEntity } from './handler-pause.entity.js';
import { HandlersService } from './handlers.service.js';
import { pausedAt, toHandlerDto, windowsAt } from './handler-view.js';
import { AuditStore } from '../audit/audit-store.js';
import { keyActor } from '../audit/audit-actor.js';
import { CauseOf, HandlerSubject, OperationalEvents } from '../operational-events/operational-events.service.js';

const CHECK_JOB = 'pause-boundaries';

/**
 * Pauses of handlers: a manual pause (until a time, or until resumed) and scheduled maintenance
 * windows, rows of `handler_pauses`. While one covers the time (the Clock), the dispatcher
 * claims none of the handler's deliveries: they are held, not skipped, and go out in their
 * order when it ends (src/dispatcher/flow-control.ts). `disabled` differs: its deliveries are
 * skipped. Also the handler's view, which shows both.
 *
 * A pause makes no change-feed row: the handler cache (which plans deliveries at ingest) does
 * not depend on it, and every claim reads it afresh. Each change an API key makes here has its
 * audit row in the same transaction; a pause that begins or ends by hand is emitted as
 * provisioning.handler.paused / .resumed once committed.
 *
 * Pauses also begin and end by the clock: a window's start and end, a timed pause's `until`.
 * The dispatcher needs nothing for that (it compares with the clock at every claim); the
 * receivers of the operational events are told by the boundary step (`settle`), which every
 * instance runs on PAUSE_CHECK_CRON and every write here runs first: a pause whose start has
 * come is marked `announced`, one whose end has passed is deleted, and the handler's change
 * from not paused to paused (or back), as told, is emitted after the commit. The step holds the
 * handler's pause rows (FOR UPDATE on MySQL/MariaDB; SQLite has one writer), so with several
 * instances, or two checks at once, each boundary is told once.
 */
@Injectable()
export class HandlerPausesService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('HandlerPauses');
  private checking: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: DirectSql,
    private readonly handlers: HandlersService,
    private readonly clock: Clock,
    private readonly audit: AuditStore,
    private readonly operational: OperationalEvents,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  private get repository() {
    return this.dataSource.getRepository(HandlerPauseEntity);
  }

  /**
   * The check runs on every instance whatever its INSTANCE_ROLE, like the cache refresh and
   * retention: the events are the API's (pauses are managed there) and the step tells each
   * boundary once however many instances run it.
   */
  onApplicationBootstrap(): void {
    startCronJob(this.scheduler, CHECK_JOB, this.config.pauses.checkCron, () => this.scheduledCheck(), (error) =>
      this.logger.error(`Checking pauses and maintenance windows failed: ${error.message}`),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.checking?.catch(() => undefined);
  }

  /** A tick of the schedule: a check, unless the previous one is still going. */
  private async scheduledCheck(): Promise<void> {
    if (this.checking || this.stopping) return;
    this.checking = this.checkBoundaries().finally(() => (this.checking = null));
    await this.checking;
  }

  /**
   * Tells the boundaries the clock has passed: for each handler with a pause whose start has
   * come and is not announced, or whose end has passed, the boundary step in a transaction of
   * its own, then its event. One handler failing does not stop the others.
   */
  async checkBoundaries(): Promise<void> {
    const now = this.clock.now();
    const due = dueHandlers(now);
    const rows: Row[] = this.sql.mysql ? await this.sql.queryMysql(due.sql, due.params) : (this.sql.statement(due.sql).all(...due.params) as Row[]);
    for (const handlerId of rows.map((row) => num(row.handler_id))) {
      if (this.stopping) return;
      try {
        const told = await this.settleAlone(handlerId, now);
        if (told) this.tell(told.subject, told.boundary);
      } catch (error) {
        this.logger.error(`Checking the pauses of handler ${handlerId} failed: ${(error as Error).message}`);
      }
    }
  }

  /** The boundary step for one handler in a transaction of its own, with the handler as its events show it (null: deleted). */
  private async settleAlone(handlerId: number, now: number): Promise<{ subject: HandlerSubject; boundary: PauseBoundary } | null> {
    const read = readPauses(handlerId, this.sql.mysql);
    const subjectOf = (row: Row | undefined): HandlerSubject | null => (row ? { id: handlerId, name: String(row.name), status: String(row.status) } : null);
    const handler = handlerSubject(handlerId);
    let result: { subject: HandlerSubject | null; boundary: PauseBoundary | null };
    if (this.sql.mysql) {
      result = await this.sql.transactionMysql(async (session) => {
        const step = settleStep((await session.query(read.sql, read.params)).map(toPauseRow), now);
        for (const statement of step.writes) await session.write(statement.sql, statement.params);
        return { subject: subjectOf((await session.query(handler.sql, handler.params))[0]), boundary: step.boundary };
      });
    } else {
      result = await this.sql.transactionSqlite(() => {
        const step = settleStep((this.sql.statement(read.sql).all(...read.params) as Row[]).map(toPauseRow), now);
        for (const statement of step.writes) this.sql.statement(statement.sql).run(...statement.params);
        return { subject: subjectOf(this.sql.statement(handler.sql).get(...handler.params) as Row | undefined), boundary: step.boundary };
      });
    }
    return result.subject && result.boundary ? { subject: result.subject, boundary: result.boundary } : null;
  }

  /** The boundary step inside a write of the API (its transaction's `manager`): no end passes unannounced under an operator's change. */
  private async settle(manager: EntityManager, handlerId: number, now: number): Promise<PauseBoundary | null> {
    const read = readPauses(handlerId, isMysql(manager));
    const step = settleStep(((await manager.query(read.sql, read.params)) as Row[]).map(toPauseRow), now);
    for (const statement of step.writes) await manager.query(statement.sql, statement.params);
    return step.boundary;
  }

  /** Emits a boundary (after its commit). */
  private tell(handler: HandlerSubject, boundary: PauseBoundary | null): void {
    if (boundary?.type === 'provisioning.handler.paused') void this.operational.handler(boundary.type, handler, boundary.cause, boundary.reason, { until: boundary.until });
    else if (boundary) void this.operational.handler(boundary.type, handler, boundary.cause, boundary.reason);
  }

  /** The handler as the API shows it, with its pause and windows. */
  async view(handler: HandlerEntity): Promise<HandlerDto> {
    return (await this.views([handler]))[0]!;
  }

  async views(handlers: readonly HandlerEntity[]): Promise<HandlerDto[]> {
    const now = this.clock.now();
    const rows = handlers.length === 0 ? [] : await this.repository.find({ where: { handlerId: In(handlers.map((handler) => handler.id)) } });
    return handlers.map((handler) => toHandlerDto(handler, rows.filter((row) => row.handlerId === handler.id), now));
  }

  /**
   * Pauses the handler now, until `until` or until resumed. Pausing a handler paused by hand
   * already changes its end and reason, and keeps when it began.
   */
  async pause(id: number, input: PauseHandlerDto, principal: Principal): Promise<HandlerDto> {
    const handler = await this.managed(id, principal);
    const now = this.clock.now();
    const until = input.until === undefined ? null : Date.parse(input.until);
    if (until !== null && until <= now) throw DomainError.field('INVALID_PAUSE_TIME', 'until', 'until must be in the future');
    const reason = input.reason?.trim() || null;
    const { wasPaused, boundary } = await this.dataSource.transaction(async (manager) => {
      const boundary = await this.settle(manager, id, now);
      const pauses = manager.getRepository(HandlerPauseEntity);
      // Every pause in force is announced once settled: this is what the receivers were told.
      const inForce = await pauses.count({ where: { handlerId: id, startsAt: LessThanOrEqual(now) } });
      const current = await pauses.findOne({ where: { handlerId: id, kind: 'manual' } });
      // The API tells this pause's beginning itself (below), so it is announced from the start.
      if (current) await pauses.update({ id: current.id }, { endsAt: until, reason, announced: 1 });
      else await pauses.insert({ handlerId: id, kind: 'manual', startsAt: now, endsAt: until, reason, createdAt: now, announced: 1 });
      const after = { since: new Date(current?.startsAt ?? now).toISOString(), until: until === null ? null : new Date(until).toISOString(), reason };
      await this.audit.record({ actor: keyActor(principal), action: 'handler.pause', targetId: id, before: current ? pauseRecord(current) : null, after }, manager);
      return { wasPaused: inForce > 0, boundary };
    });
    this.tell(handler, boundary);
    if (!wasPaused) {
      void this.operational.handler('provisioning.handler.paused', handler, 'operator', reason ?? `Paused by an operator (API key ${principal.keyId})`, { until });
    }
    return this.view(handler);
  }

  /**
   * Ends the pause: the manual one, and a maintenance window in force (it is cut short). Later
   * windows stay scheduled. The held deliveries go out at the next claim, in their order.
   */
  async resume(id: number, principal: Principal): Promise<HandlerDto> {
    const handler = await this.managed(id, principal);
    const now = this.clock.now();
    const { ended, boundary } = await this.dataSource.transaction(async (manager) => {
      const boundary = await this.settle(manager, id, now);
      const pauses = manager.getRepository(HandlerPauseEntity);
      const inForce = await pauses.find({ where: { handlerId: id, startsAt: LessThanOrEqual(now) }, order: { id: 'ASC' } });
      if (inForce.length === 0) return { ended: inForce, boundary };
      await pauses.delete({ id: In(inForce.map((row) => row.id)) });
      await this.audit.record({ actor: keyActor(principal), action: 'handler.resume', targetId: id, before: { pauses: inForce.map(pauseRecord) }, after: null }, manager);
      return { ended: inForce, boundary };
    });
    this.tell(handler, boundary);
    if (ended.length > 0) void this.operational.handler('provisioning.handler.resumed', handler, 'operator', `Resumed by an operator (API key ${principal.keyId})`);
    return this.view(handler);
  }

  /** Schedules a maintenance window: from `from` to `to`, the handler is paused (one that has begun already is told at once). */
  async addWindow(id: number, input: CreateMaintenanceWindowDto, principal: Principal): Promise<MaintenanceWindowDto> {
    const handler = await this.managed(id, principal);
    const now = this.clock.now();
    const from = Date.parse(input.from);
    const to = Date.parse(input.to);
    if (to <= from) throw DomainError.field('INVALID_PAUSE_TIME', 'to', 'to must be after from');
    if (to <= now) throw DomainError.field('INVALID_PAUSE_TIME', 'to', 'to must be in the future');
    const reason = input.reason?.trim() || null;
    const { saved, boundaries } = await this.dataSource.transaction(async (manager) => {
      const before = await this.settle(manager, id, now);
      const pauses = manager.getRepository(HandlerPauseEntity);
      const scheduled = await pauses.count({ where: { handlerId: id, kind: 'window' } });
      if (scheduled >= HANDLER_LIMITS.maintenanceWindowsMax) {
        throw new DomainError('TOO_MANY_MAINTENANCE_WINDOWS', `Handler ${id} has ${scheduled} maintenance windows scheduled, the most allowed; delete one first`);
      }
      const window = await pauses.save(pauses.create({ handlerId: id, kind: 'window', startsAt: from, endsAt: to, reason, createdAt: now, announced: 0 }));
      await this.audit.record({ actor: keyActor(principal), action: 'handler.window_add', targetId: id, before: null, after: pauseRecord(window) }, manager);
      const begun = from <= now ? await this.settle(manager, id, now) : null;
      return { saved: window, boundaries: [before, begun] };
    });
    for (const boundary of boundaries) this.tell(handler, boundary);
    return windowsAt([saved], now)[0] ?? { id: saved.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), reason };
  }

  /** Removes a maintenance window (one in force ends with it, told as a resume by the operator unless another pause goes on). */
  async removeWindow(id: number, windowId: number, principal: Principal): Promise<void> {
    const handler = await this.managed(id, principal);
    const now = this.clock.now();
    const { boundary, resumed } = await this.dataSource.transaction(async (manager) => {
      // Settled first: a window whose end has passed is gone (the check tells its end), like one that is over in the view.
      const boundary = await this.settle(manager, id, now);
      const pauses = manager.getRepository(HandlerPauseEntity);
      const window = await pauses.findOne({ where: { id: windowId, handlerId: id, kind: 'window' } });
      if (!window) throw DomainError.field('MAINTENANCE_WINDOW_NOT_FOUND', 'windowId', `Handler ${id} has no maintenance window ${windowId}`);
      await pauses.delete({ id: windowId });
      await this.audit.record({ actor: keyActor(principal), action: 'handler.window_delete', targetId: id, before: pauseRecord(window), after: null }, manager);
      // A window in force was told; its removal is a resume unless another pause told goes on.
      const resumed = window.announced === 1 && (await pauses.count({ where: { handlerId: id, announced: 1 } })) === 0;
      return { boundary, resumed };
    });
    this.tell(handler, boundary);
    if (resumed) {
      void this.operational.handler('provisioning.handler.resumed', handler, 'operator', `Maintenance window ${windowId} removed by an operator (API key ${principal.keyId})`);
    }
  }

  private async managed(id: number, principal: Principal): Promise<HandlerEntity> {
    const handler = await this.handlers.get(id);
    this.handlers.assertMayManage(principal, handler.type);
    return handler;
  }
}

/** A pause or window as its audit rows show it. */
function pauseRecord(row: HandlerPauseEntity): Record<string, unknown> {
  return {
    id: row.id,
    kind: row.kind,
    from: new Date(row.startsAt).toISOString(),
    until: row.endsAt === null ? null : new Date(row.endsAt).toISOString(),
    reason: row.reason,
  };
}

/** A change of a handler between paused and not paused, as the operational events tell it. */
export type PauseBoundary =
  /** `until`: when the pause in force is due to end (null: until resumed). */
  | { type: 'provisioning.handler.paused'; cause: CauseOf<'provisioning.handler.paused'>; reason: string | null; until: number | null }
  | { type: 'provisioning.handler.resumed'; cause: CauseOf<'provisioning.handler.resumed'>; reason: string; until: null };

/** One row of `handler_pauses`, as the boundary step reads it. */
export type PauseRow = Pick<HandlerPauseEntity, 'id' | 'handlerId' | 'kind' | 'startsAt' | 'endsAt' | 'reason' | 'announced'>;

/**
 * The boundary step for one handler's pause rows at `now`: the ended ones go, those whose start
 * has come are announced, and the boundary to tell is the handler's change between told paused
 * (some announced row) and not, from before the step to after it. A window that follows another
 * without a gap, or begins while a manual pause is in force, changes nothing told; a window that
 * began and ended between two checks (shorter than the checks' period, or while no instance
 * ran) is not told at all, rather than told ended without having been told begun.
 */
export function settleStep(rows: readonly PauseRow[], now: number): { writes: Statement[]; boundary: PauseBoundary | null } {
  const ended = rows.filter((row) => row.endsAt !== null && row.endsAt <= now);
  const left = rows.filter((row) => !ended.includes(row));
  const begun = left.filter((row) => row.announced === 0 && row.startsAt <= now);
  const writes: Statement[] = [];
  // Guarded as well as held: should a row have changed since it was read, the write leaves it.
  if (ended.length > 0) writes.push({ sql: `DELETE FROM handler_pauses WHERE id IN ${placeholders(1, ended.length)} AND ends_at <= ?`, params: [...ended.map((row) => row.id), now] });
  if (begun.length > 0) writes.push({ sql: `UPDATE handler_pauses SET announced = 1 WHERE id IN ${placeholders(1, begun.length)} AND announced = 0`, params: begun.map((row) => row.id) });
  const toldBefore = rows.some((row) => row.announced === 1);
  const toldAfter = left.some((row) => row.announced === 1 || begun.includes(row));
  let boundary: PauseBoundary | null = null;
  if (!toldBefore && toldAfter) {
    const inForce = pausedAt(left as HandlerPauseEntity[], now);
    const first = [...begun].sort((a, b) => a.startsAt - b.startsAt || a.id - b.id)[0]!;
    boundary = {
      type: 'provisioning.handler.paused',
      cause: first.kind === 'window' ? 'window' : 'operator',
      reason: first.reason ?? (first.kind === 'window' ? 'Maintenance window' : null),
      until: inForce?.until ? Date.parse(inForce.until) : null,
    };
  } else if (toldBefore && !toldAfter) {
    const last = ended.filter((row) => row.announced === 1).sort((a, b) => a.endsAt! - b.endsAt! || a.id - b.id).at(-1)!;
    const what = last.kind === 'window' ? 'The maintenance window ended' : 'The pause ran out';
    boundary = { type: 'provisioning.handler.resumed', cause: last.kind === 'window' ? 'window' : 'expired', reason: last.reason ? `${what}: ${last.reason}` : what, until: null };
  }
  return { writes, boundary };
}

/** The handlers with a boundary to settle at `now`: a pause begun and not announced, or one ended. */
function dueHandlers(now: number): Statement {
  return {
    sql: 'SELECT DISTINCT handler_id FROM handler_pauses WHERE (announced = 0 AND starts_at <= ?) OR ends_at <= ? ORDER BY handler_id',
    params: [now, now],
  };
}

/** A handler's pause rows, held until the transaction ends on MySQL/MariaDB (SQLite has one writer). */
function readPauses(handlerId: number, lock: boolean): Statement {
  return {
    sql: `SELECT id, handler_id, kind, starts_at, ends_at, reason, announced FROM handler_pauses WHERE handler_id = ? ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
    params: [handlerId],
  };
}

/** The handler as its operational events name it. */
function handlerSubject(handlerId: number): Statement {
  return { sql: 'SELECT name, status FROM handlers WHERE id = ?', params: [handlerId] };
}

function toPauseRow(row: Row): PauseRow {
  return {
    id: num(row.id),
    handlerId: num(row.handler_id),
    kind: String(row.kind) as PauseRow['kind'],
    startsAt: num(row.starts_at),
    endsAt: numOrNull(row.ends_at),
    reason: row.reason === null || row.reason === undefined ? null : String(row.reason),
    announced: num(row.announced),
  };
}
