import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource, EntityManager, In, LessThan, MoreThan } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { startCronJob } from '../common/cron-job.js';
import { HandlerEntity, HandlerStage } from '../handlers/handler.entity.js';
import { checkFilter, EnvelopeSource, FilterEnvelope, FilterTester, HandlerFilter } from '../handlers/handler-filter.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { HandlerChangeEntity } from './handler-change.entity.js';
import { ChangeFeedCursor } from './change-feed-cursor.js';
import { HandlerIndex } from './handler-index.js';
import { SecretBox } from '../secrets/secret-box.js';
import { openHandlerSecrets } from '../handlers/handler-secrets.js';

const REFRESH_JOB = 'handler-cache-refresh';

/** The tester of a stored filter that breaks the rules: nothing passes. */
const REFUSE_ALL: FilterTester = () => false;

/** Change-feed rows older than this are deleted by the scheduled refresh. */
const CHANGE_FEED_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface CacheStatus {
  version: number;
  handlerCount: number;
  refreshedAt: number | null;
  refreshDurationMs: number | null;
  syncedAt: number | null;
}

/**
 * The in-memory handler cache. A full reload runs at start, on the configured cron and on
 * demand; in between, every instance polls the `handler_changes` feed and re-reads only the
 * handlers that changed, so an API change reaches all instances within the poll interval.
 */
@Injectable()
export class CacheManagerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CacheManagerService.name);
  private readonly cursor = new ChangeFeedCursor();
  private handlers = new Map<number, HandlerEntity>();
  private index = new HandlerIndex([]);
  private refreshedAt: number | null = null;
  private refreshDurationMs: number | null = null;
  private syncedAt: number | null = null;
  /** Serialises reloads and syncs so two never interleave their writes to the maps. */
  private queue: Promise<unknown> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | null = null;
  /**
   * Each loaded handler row's compiled filter. A sync replaces only the rows that changed, so
   * an index rebuild compiles only their filters; the rest are found here.
   */
  private readonly testers = new WeakMap<HandlerEntity, FilterTester | null>();
  /** Compiled filters by their JSON text; `retired` holds the previous ones while a full reload builds its index. */
  private compiled = new Map<string, FilterTester | null>();
  private retired: Map<string, FilterTester | null> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
    private readonly box: SecretBox,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh();
    startCronJob(this.scheduler, REFRESH_JOB, this.config.cache.refreshCron, () => this.refresh(), (error) =>
      this.logger.error(`Scheduled refresh failed: ${error.message}`),
    );
    this.syncTimer = setInterval(
      () => void this.sync().catch((error: Error) => this.logger.warn(`Cache sync failed: ${error.message}`)),
      this.config.cache.syncIntervalMs,
    );
    this.syncTimer.unref();
  }

  onApplicationShutdown(): void {
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.syncTimer = null;
  }

  /**
   * Enabled handlers for an event and stage, in run order. O(1) in the number of handlers.
   * With the event, only those whose payload filter matches its envelope; each one left out is
   * counted (provisioning_events_filtered_out_total). Filters are evaluated only for the
   * handlers of this event that have one.
   */
  lookup(eventId: string, stage: HandlerStage = 'after', event?: EnvelopeSource): readonly HandlerEntity[] {
    return event === undefined ? this.index.lookup(eventId, stage) : this.index.select(eventId, stage, event, this.countFilteredOut);
  }

  /**
   * Whether `handler`'s filter matches `envelope` (true without a filter); a miss is counted.
   * For the before chain, which matches each handler against the data as the handlers before
   * it left it.
   */
  admits(handler: HandlerEntity, envelope: FilterEnvelope): boolean {
    const test = this.testerOf(handler);
    if (!test || test(envelope)) return true;
    this.countFilteredOut(handler);
    return false;
  }

  private readonly countFilteredOut = (handler: HandlerEntity): void => this.metrics.countFilteredOut(handler.id);

  /**
   * Records a change of handler `handlerId` in the change feed (`handler_changes`, owned here),
   * inside the caller's transaction with the change itself, so every instance's next sync
   * re-reads that handler.
   */
  async recordChange(manager: EntityManager, handlerId: number): Promise<void> {
    await manager.getRepository(HandlerChangeEntity).insert({ handlerId, changedAt: Date.now() });
  }

  /** The cached row of an enabled handler, as of the last refresh or sync. */
  enabledHandler(id: number): HandlerEntity | undefined {
    return this.handlers.get(id);
  }

  /**
   * The handler's compiled filter, or null without one: compiled once per loaded row (a sync
   * replaces only the rows that changed), and once per distinct filter.
   */
  private readonly testerOf = (handler: HandlerEntity): FilterTester | null => {
    let tester = this.testers.get(handler);
    if (tester === undefined) {
      tester = handler.filter === null ? null : this.compiledFilter(handler.id, handler.filter);
      this.testers.set(handler, tester);
    }
    return tester;
  };

  /**
   * The tester of a filter. Handlers with the same filter share it, and a full reload reuses
   * those of the filters it already knew. A stored filter that breaks the current rules
   * (written past the API, or FILTER_MAX_* lowered since) lets nothing through: a filter often
   * keeps one company's events from another's target, so sending everything would be the worse
   * failure. The error names the handler and the fault.
   */
  private compiledFilter(handlerId: number, filter: HandlerFilter): FilterTester | null {
    const text = JSON.stringify(filter);
    const known = this.compiled.get(text) ?? this.retired?.get(text);
    if (known !== undefined && known !== null) {
      this.compiled.set(text, known);
      return known;
    }
    const { problems, tester } = checkFilter(filter, this.config.filters);
    if (problems.length > 0) {
      this.logger.error(
        `Handler ${handlerId}'s payload filter is not valid (${problems.map((p) => `${p.field} ${p.message}`).join('; ')}); it receives no event until the filter is fixed`,
      );
      return REFUSE_ALL;
    }
    this.compiled.set(text, tester);
    return tester;
  }

  status(): CacheStatus {
    return {
      version: this.cursor.version,
      handlerCount: this.index.size,
      refreshedAt: this.refreshedAt,
      refreshDurationMs: this.refreshDurationMs,
      syncedAt: this.syncedAt,
    };
  }

  /** Full reload from the database. */
  refresh(): Promise<CacheStatus> {
    return this.serialised(async () => {
      const started = performance.now();
      const changes = this.dataSource.getRepository(HandlerChangeEntity);
      // Read the feed position before the handlers: a change committed in between is re-applied, never missed.
      const latest = await changes.find({ order: { version: 'DESC' }, take: 1 });
      const high = latest[0]?.version ?? 0;
      const recent = await changes.find({ select: { version: true }, where: { version: MoreThan(high - 200) } });
      const enabled = this.opened(await this.dataSource.getRepository(HandlerEntity).find({ where: { status: 'enabled' } }));
      this.handlers = new Map(enabled.map((handler) => [handler.id, handler]));
      // Filters no handler uses any more are dropped; the others are not compiled again.
      this.retired = this.compiled;
      this.compiled = new Map();
      this.index = new HandlerIndex(this.handlers.values(), this.testerOf);
      this.retired = null;
      this.cursor.reset(high, recent.map((row) => row.version));
      this.refreshedAt = Date.now();
      this.syncedAt = this.refreshedAt;
      this.refreshDurationMs = Math.round((performance.now() - started) * 100) / 100;
      await changes.delete({ changedAt: LessThan(Date.now() - CHANGE_FEED_RETENTION_MS) });
      this.logger.log(`Handler cache refreshed: ${this.index.size} enabled handlers, version ${high}, ${this.refreshDurationMs} ms`);
      return this.status();
    });
  }

  /** Applies changes from the feed that this instance has not seen. Cheap when nothing changed. */
  sync(): Promise<CacheStatus> {
    return this.serialised(async () => {
      const rows = await this.dataSource
        .getRepository(HandlerChangeEntity)
        .find({ where: { version: MoreThan(this.cursor.floor) }, order: { version: 'ASC' } });
      const fresh = this.cursor.take(rows);
      if (fresh.length > 0) {
        const ids = [...new Set(fresh.map((row) => row.handlerId))];
        const current = await this.readHandlers(ids);
        const byId = new Map(current.map((handler) => [handler.id, handler]));
        for (const id of ids) {
          const handler = byId.get(id);
          if (handler && handler.status === 'enabled') this.handlers.set(id, handler);
          else this.handlers.delete(id);
        }
        this.index = new HandlerIndex(this.handlers.values(), this.testerOf);
      }
      this.syncedAt = Date.now();
      return this.status();
    });
  }

  /**
   * Handlers by id, read now, as the dispatcher uses them: their secrets decrypted (once per
   * load, so a call signs with a secret already in memory). Also for rows that changed since
   * they were cached (DispatcherService.handlersOf).
   */
  async readHandlers(ids: readonly number[]): Promise<HandlerEntity[]> {
    return this.opened(await this.dataSource.getRepository(HandlerEntity).find({ where: { id: In([...ids]) } }));
  }

  /** Secrets at rest (src/handlers/handler-secrets.ts): every row this cache loads is opened here. */
  private opened(rows: HandlerEntity[]): HandlerEntity[] {
    for (const row of rows) openHandlerSecrets(this.box, row);
    return rows;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
