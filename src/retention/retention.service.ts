import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCronJob } from '../common/cron-job.js';
import { AppConfig } from '../config/app-config.js';
import { AuditStore } from '../audit/audit-store.js';
import { DirectSql, Row } from '../database/direct-sql.js';
import { num } from '../database/sql.js';
import { EventStore } from '../events/event-store.js';
import { DAY_MS, ExecutionLogPartitions, LogPartition } from '../execution-logs/execution-log-partitions.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { LogDates } from '../execution-logs/log-dates.js';
import { DeliveryPurge } from '../queue/delivery-purge.js';
import { planLogPartitions } from './log-partitions.js';
import { lateWriteMs } from '../database/ids-by-time.js';

const JOB = 'retention';
/** MySQL/MariaDB: one instance runs retention at a time (a named lock of the server, per database). */
const LOCK_NAME = "LEFT(CONCAT('provisioning-retention:', DATABASE()), 64)";
/** A partition change that could not get the table's metadata lock is tried again this many times, this long apart. */
const ALTER_ATTEMPTS = 3;
const ALTER_RETRY_MS = 5000;
const MYSQL_LOCK_WAIT_TIMEOUT = 1205;

/**
 * Retention, on LOG_CLEANUP_CRON: data older than LOG_RETENTION_DAYS goes through its owners'
 * steps, so that it keeps up with the writes and never holds a lock for long.
 *
 * - Execution logs, MySQL/MariaDB: a partition per UTC day, a range of ids (the
 *   ExecutionLogsById migration); a day is dropped whole once its newest row is older than the
 *   retention period, and the days of the coming week are prepared (at start and on every run),
 *   so the MAXVALUE partition stays empty. Each UTC day's ids are started when it begins (a
 *   timer to the next midnight), at start and on every run. Rows written before the table was
 *   partitioned go in batches.
 * - Execution logs on SQLite, events with their deliveries (both databases), audit rows: a walk
 *   along the primary key from the oldest id, up to the newest expired row, deleting
 *   RETENTION_BATCH_SIZE rows (events: a quarter as many, with their deliveries) per short
 *   transaction, with a pause after each as long as it took (at least RETENTION_PAUSE_MS) so
 *   writers get the database.
 *   A run goes on until everything expired is gone. Events go only once none of their
 *   deliveries is pending or in progress.
 *
 * A tick that comes while a run is still going is skipped; on MySQL/MariaDB one instance runs
 * at a time. Shutdown waits for the batch in progress, then the run stops.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private running: Promise<void> | null = null;
  private stopping = false;
  private dayTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sql: DirectSql,
    private readonly events: EventStore,
    private readonly deliveries: DeliveryPurge,
    private readonly logs: ExecutionLogsService,
    private readonly logPartitions: ExecutionLogPartitions,
    private readonly logDates: LogDates,
    private readonly audit: AuditStore,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  /** Starts the schedule, and makes sure the coming days have their partitions before the first insert of this instance. */
  async onApplicationBootstrap(): Promise<void> {
    startCronJob(this.scheduler, JOB, this.config.logs.cleanupCron, () => this.scheduledRun(), (error) => this.logger.error(`Retention failed: ${error.message}`));
    await this.exclusively(() => this.prepareLogPartitions()).catch((error: Error) => this.logger.error(`Preparing execution-log partitions failed: ${error.message}`));
    if (this.sql.mysql) this.startDaysAtMidnight();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.dayTimer) clearTimeout(this.dayTimer);
    await this.running?.catch(() => undefined);
  }

  /**
   * MySQL/MariaDB: when a UTC day begins (a second after midnight), its ids are started
   * (ExecutionLogPartitions.startDay), so its rows go to its partition; the next day's timer
   * is set each time.
   */
  private startDaysAtMidnight(): void {
    const now = Date.now();
    const next = (Math.floor(now / DAY_MS) + 1) * DAY_MS + 1000;
    this.dayTimer = setTimeout(() => {
      void this.alter(() => this.logPartitions.startDay(Date.now()))
        .catch((error: Error) => this.logger.error(`Starting the day's execution-log ids failed: ${error.message}`))
        .finally(() => {
          if (!this.stopping) this.startDaysAtMidnight();
        });
    }, next - now);
    this.dayTimer.unref();
  }

  /** A tick of the schedule: a run, unless the previous one is still going. */
  private async scheduledRun(): Promise<void> {
    if (this.running) {
      this.logger.warn('Retention is still running since the previous tick; this tick is skipped');
      return;
    }
    await this.removeExpired();
  }

  /** One run: events (with their deliveries), execution logs, then audit rows; one failing does not stop the others. After a run in progress. */
  async removeExpired(now = Date.now()): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.exclusively(async () => {
      await this.removeExpiredEvents(now).catch((error: Error) => this.logger.error(`Event cleanup failed: ${error.message}`));
      await this.removeExpiredLogs(now).catch((error: Error) => this.logger.error(`Log cleanup failed: ${error.message}`));
      await this.removeExpiredAudit(now).catch((error: Error) => this.logger.error(`Audit cleanup failed: ${error.message}`));
    }).then((ran) => {
      if (!ran) this.logger.log('Retention is running on another instance; this run is skipped');
    });
    this.running = run.finally(() => (this.running = null));
    await this.running;
  }

  /** Finished events accepted before the retention period, each batch with its deliveries in one transaction. Answers how many went. */
  async removeExpiredEvents(now = Date.now()): Promise<number> {
    const cutoff = this.cutoff(now);
    const upTo = await this.events.walkEndBefore(cutoff);
    if (upTo === null) return 0;
    const removed = await this.inBatches(
      Math.max(1, Math.round(this.config.logs.retentionBatchSize / 4)),
      (afterId, limit) => this.events.acceptedBefore(cutoff, afterId, upTo, limit),
      (ids) => this.purgeEvents(ids),
    );
    if (removed > 0) this.logger.log(`Removed ${removed} finished events older than ${this.config.logs.retentionDays} days`);
    return removed;
  }

  /**
   * Execution logs written before the retention period: whole days of partitions on
   * MySQL/MariaDB, batches of rows elsewhere. Answers how many went: the rows deleted, plus the
   * server's estimate of the rows of each partition dropped.
   */
  async removeExpiredLogs(now = Date.now()): Promise<number> {
    const cutoff = this.cutoff(now);
    let removed = 0;
    let walkBelow = Number.MAX_SAFE_INTEGER;
    const partitions = await this.logPartitions.partitions();
    if (partitions) {
      const plan = planLogPartitions(await this.logPartitions.withNewestRows(partitions), cutoff, now, lateWriteMs(this.config));
      await this.addLogPartitions(partitions, plan.add);
      await this.alter(() => this.logPartitions.startDay(now));
      if (plan.drop.length > 0) {
        await this.alter(() => this.logPartitions.dropPartitions(plan.drop.map((partition) => partition.name)));
        const rows = plan.drop.reduce((sum, partition) => sum + partition.rows, 0);
        removed += rows;
        this.logger.log(
          `Dropped execution-log partitions ${plan.drop.map((partition) => partition.name).join(', ')} (about ${rows} rows, all older than ${this.config.logs.retentionDays} days)`,
        );
      }
      walkBelow = plan.deleteBelowId;
      if (walkBelow === 0) return removed;
    }
    const end = await this.logDates.walkEndBefore(cutoff);
    if (end === null) return removed;
    const upTo = Math.min(end, walkBelow - 1);
    const deleted = await this.inBatches(
      this.config.logs.retentionBatchSize,
      (afterId, limit) => this.logs.expiredIds(cutoff, afterId, upTo, limit),
      (ids) => this.logs.deleteExpired(cutoff, ids[0]!, ids[ids.length - 1]!),
    );
    if (deleted > 0) this.logger.log(`Removed ${deleted} execution logs older than ${this.config.logs.retentionDays} days`);
    return removed + deleted;
  }

  /** Audit rows are kept unless AUDIT_RETENTION is set; then those older than it go. Answers how many went. */
  async removeExpiredAudit(now = Date.now()): Promise<number> {
    const { retentionMs } = this.config.audit;
    if (retentionMs === 0) return 0;
    const cutoff = now - retentionMs;
    const removed = await this.inBatches(
      this.config.logs.retentionBatchSize,
      (afterId, limit) => this.audit.createdBefore(cutoff, afterId, limit),
      (ids) => this.audit.purge(ids),
    );
    if (removed > 0) this.logger.log(`Removed ${removed} audit rows older than AUDIT_RETENTION`);
    return removed;
  }

  /**
   * MySQL/MariaDB: the partitions of the coming days exist, then today's ids are started
   * (at start, when a UTC day begins, and on every run). Answers how many partitions were added.
   */
  async prepareLogPartitions(now = Date.now()): Promise<number> {
    const partitions = await this.logPartitions.partitions();
    if (!partitions) return 0;
    const { add } = planLogPartitions(await this.logPartitions.withNewestRows(partitions), this.cutoff(now), now, lateWriteMs(this.config));
    await this.addLogPartitions(partitions, add);
    await this.alter(() => this.logPartitions.startDay(now));
    return add.length;
  }

  private async addLogPartitions(partitions: readonly LogPartition[], add: { name: string; lessThan: number }[]): Promise<void> {
    if (add.length === 0) return;
    const future = partitions.find((partition) => partition.lessThan === null)?.name ?? null;
    await this.alter(() => this.logPartitions.addPartitions(add, future));
    this.logger.log(`Prepared execution-log partitions ${add[0]!.name}…${add[add.length - 1]!.name}`);
  }

  /** A batch of events with their deliveries, in one short transaction (READ COMMITTED on MySQL/MariaDB: no gap locks that would hold up ingest). */
  private purgeEvents(ids: number[]): Promise<number> {
    if (!this.sql.mysql) {
      return this.sql.transactionSqlite(() => {
        const finished = this.deliveries.purgeFinishedSqlite(ids);
        this.events.purgeSqlite(finished);
        return finished.length;
      });
    }
    return this.sql.transactionReadCommitted(async (session) => {
      const finished = await this.deliveries.purgeFinishedMysql(session, ids);
      await this.events.purgeMysql(session, finished);
      return finished.length;
    });
  }

  /**
   * The one batch loop: `select` answers the next ids (after `afterId`, ascending, at most
   * `limit`), `remove` deletes those it may and answers how many. Walking by id, rows kept (an
   * event still being delivered) are passed over, not read again. Between two batches the
   * database is left to others for as long as the batch took, and at least RETENTION_PAUSE_MS:
   * retention has it at most half the time, however slow the batches are. Shutdown stops the walk.
   */
  private async inBatches(limit: number, select: (afterId: number, limit: number) => Promise<number[]>, remove: (ids: number[]) => Promise<number>): Promise<number> {
    let removed = 0;
    for (let afterId = 0; !this.stopping; ) {
      const started = performance.now();
      const ids = await select(afterId, limit);
      if (ids.length > 0) removed += await remove(ids);
      if (ids.length < limit) break;
      afterId = ids[ids.length - 1]!;
      await sleep(Math.max(this.config.logs.retentionPauseMs, performance.now() - started));
    }
    return removed;
  }

  /** A partition change, tried again a little later when the table's metadata lock did not come in time. */
  private async alter(change: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await change();
        return;
      } catch (error) {
        if ((error as { errno?: number }).errno !== MYSQL_LOCK_WAIT_TIMEOUT || attempt >= ALTER_ATTEMPTS || this.stopping) throw error;
        this.logger.warn(`Execution-log partitions: the table was busy; trying again in ${ALTER_RETRY_MS / 1000} s`);
        await sleep(ALTER_RETRY_MS);
      }
    }
  }

  /**
   * Runs `work` unless another instance is running retention on the same MySQL/MariaDB
   * database (GET_LOCK, held on a connection of its own until `work` ends; the server frees it
   * should that connection break). SQLite has one instance. Answers whether `work` ran.
   */
  private async exclusively(work: () => Promise<unknown>): Promise<boolean> {
    if (!this.sql.mysql) {
      await work();
      return true;
    }
    return this.sql.onPooledConnection(async (session) => {
      const [row] = await session.query<Row[]>(`SELECT GET_LOCK(${LOCK_NAME}, 0) AS locked`);
      if (num(row?.locked) !== 1) return false;
      try {
        await work();
        return true;
      } finally {
        await session.query(`SELECT RELEASE_LOCK(${LOCK_NAME})`);
      }
    });
  }

  private cutoff(now: number): number {
    return now - this.config.logs.retentionDays * 86_400_000;
  }
}
