import { Injectable } from '@nestjs/common';
import { DataSource, In, LessThanOrEqual, Repository } from 'typeorm';
import { Clock } from '../common/clock.js';
import { DomainError } from '../common/errors.js';
import { Principal } from '../api-keys/auth.decorators.js';
import { CreateMaintenanceWindowDto, HANDLER_LIMITS, HandlerDto, MaintenanceWindowDto, PauseHandlerDto } from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { HandlerPauseEntity } from './handler-pause.entity.js';
import { HandlersService } from './handlers.service.js';
import { toHandlerDto, windowsAt } from './handler-view.js';
import { AuditStore } from '../audit/audit-store.js';
import { keyActor } from '../audit/audit-actor.js';
import { OperationalEvents } from '../operational-events/operational-events.service.js';

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
 */
@Injectable()
export class HandlerPausesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly handlers: HandlersService,
    private readonly clock: Clock,
    private readonly audit: AuditStore,
    private readonly operational: OperationalEvents,
  ) {}

  private get repository() {
    return this.dataSource.getRepository(HandlerPauseEntity);
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
    const wasPaused = await this.dataSource.transaction(async (manager) => {
      const pauses = manager.getRepository(HandlerPauseEntity);
      await this.pruneEnded(pauses, id, now);
      const inForce = await pauses.count({ where: { handlerId: id, startsAt: LessThanOrEqual(now) } });
      const current = await pauses.findOne({ where: { handlerId: id, kind: 'manual' } });
      if (current) await pauses.update({ id: current.id }, { endsAt: until, reason });
      else await pauses.insert({ handlerId: id, kind: 'manual', startsAt: now, endsAt: until, reason, createdAt: now });
      const after = { since: new Date(current?.startsAt ?? now).toISOString(), until: until === null ? null : new Date(until).toISOString(), reason };
      await this.audit.record({ actor: keyActor(principal), action: 'handler.pause', targetId: id, before: current ? pauseRecord(current) : null, after }, manager);
      return inForce > 0;
    });
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
    const ended = await this.dataSource.transaction(async (manager) => {
      const pauses = manager.getRepository(HandlerPauseEntity);
      await this.pruneEnded(pauses, id, now);
      const inForce = await pauses.find({ where: { handlerId: id, startsAt: LessThanOrEqual(now) }, order: { id: 'ASC' } });
      if (inForce.length === 0) return inForce;
      await pauses.delete({ id: In(inForce.map((row) => row.id)) });
      await this.audit.record({ actor: keyActor(principal), action: 'handler.resume', targetId: id, before: { pauses: inForce.map(pauseRecord) }, after: null }, manager);
      return inForce;
    });
    if (ended.length > 0) void this.operational.handler('provisioning.handler.resumed', handler, 'operator', `Resumed by an operator (API key ${principal.keyId})`);
    return this.view(handler);
  }

  /** Schedules a maintenance window: from `from` to `to`, the handler is paused. */
  async addWindow(id: number, input: CreateMaintenanceWindowDto, principal: Principal): Promise<MaintenanceWindowDto> {
    await this.managed(id, principal);
    const now = this.clock.now();
    const from = Date.parse(input.from);
    const to = Date.parse(input.to);
    if (to <= from) throw DomainError.field('INVALID_PAUSE_TIME', 'to', 'to must be after from');
    if (to <= now) throw DomainError.field('INVALID_PAUSE_TIME', 'to', 'to must be in the future');
    const reason = input.reason?.trim() || null;
    const saved = await this.dataSource.transaction(async (manager) => {
      const pauses = manager.getRepository(HandlerPauseEntity);
      await this.pruneEnded(pauses, id, now);
      const scheduled = await pauses.count({ where: { handlerId: id, kind: 'window' } });
      if (scheduled >= HANDLER_LIMITS.maintenanceWindowsMax) {
        throw new DomainError('TOO_MANY_MAINTENANCE_WINDOWS', `Handler ${id} has ${scheduled} maintenance windows scheduled, the most allowed; delete one first`);
      }
      const window = await pauses.save(pauses.create({ handlerId: id, kind: 'window', startsAt: from, endsAt: to, reason, createdAt: now }));
      await this.audit.record({ actor: keyActor(principal), action: 'handler.window_add', targetId: id, before: null, after: pauseRecord(window) }, manager);
      return window;
    });
    return windowsAt([saved], now)[0] ?? { id: saved.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), reason };
  }

  /** Removes a maintenance window (one in force ends with it). */
  async removeWindow(id: number, windowId: number, principal: Principal): Promise<void> {
    await this.managed(id, principal);
    await this.dataSource.transaction(async (manager) => {
      const pauses = manager.getRepository(HandlerPauseEntity);
      const window = await pauses.findOne({ where: { id: windowId, handlerId: id, kind: 'window' } });
      const result = window ? await pauses.delete({ id: windowId, handlerId: id, kind: 'window' }) : null;
      if (!window || (result?.affected ?? 0) === 0) {
        throw DomainError.field('MAINTENANCE_WINDOW_NOT_FOUND', 'windowId', `Handler ${id} has no maintenance window ${windowId}`);
      }
      await this.audit.record({ actor: keyActor(principal), action: 'handler.window_delete', targetId: id, before: pauseRecord(window), after: null }, manager);
    });
  }

  private async managed(id: number, principal: Principal): Promise<HandlerEntity> {
    const handler = await this.handlers.get(id);
    this.handlers.assertMayManage(principal, handler.type);
    return handler;
  }

  /** Pauses and windows that ended are of no more use: each write removes the handler's. */
  private async pruneEnded(pauses: Repository<HandlerPauseEntity>, id: number, now: number): Promise<void> {
    await pauses.delete({ handlerId: id, endsAt: LessThanOrEqual(now) });
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
