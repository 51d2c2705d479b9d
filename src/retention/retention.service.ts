import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { startCronJob } from '../common/cron-job.js';
import { AppConfig } from '../config/app-config.js';
import { AuditStore } from '../audit/audit-store.js';
import { EventStore } from '../events/event-store.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';

const JOB = 'retention';
const EVENT_BATCH = 500;
const LOG_BATCH = 1000;
const AUDIT_BATCH = 1000;

/**
 * Retention, on LOG_CLEANUP_CRON: rows older than LOG_RETENTION_DAYS go, a batch at a time so
 * no lock is held for long, through their owners' purge steps. Events go with their deliveries
 * once none of those is pending or in progress; execution logs follow their own age.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap {
  private readonly logger = new Logger(RetentionService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly events: EventStore,
    private readonly queue: DeliveryQueue,
    private readonly logs: ExecutionLogsService,
    private readonly audit: AuditStore,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    startCronJob(this.scheduler, JOB, this.config.logs.cleanupCron, () => this.removeExpired(), (error) => this.logger.error(`Retention failed: ${error.message}`));
  }

  /** One scheduled run: events (with their deliveries), execution logs, then audit rows; one failing does not stop the others. */
  async removeExpired(now = Date.now()): Promise<void> {
    await this.removeExpiredEvents(now).catch((error: Error) => this.logger.error(`Event cleanup failed: ${error.message}`));
    await this.removeExpiredLogs(now).catch((error: Error) => this.logger.error(`Log cleanup failed: ${error.message}`));
    await this.removeExpiredAudit(now).catch((error: Error) => this.logger.error(`Audit cleanup failed: ${error.message}`));
  }

  /** Finished events accepted before the retention period, each with its deliveries in one transaction. Answers how many went. */
  async removeExpiredEvents(now = Date.now()): Promise<number> {
    const cutoff = this.cutoff(now);
    const removed = await inBatches(
      EVENT_BATCH,
      (afterId, limit) => this.events.acceptedBefore(cutoff, afterId, limit),
      (ids) =>
        this.dataSource.transaction(async (manager) => {
          const finished = await this.queue.purgeFinished(ids, manager);
          await this.events.purge(finished, manager);
          return finished.length;
        }),
    );
    if (removed > 0) this.logger.log(`Removed ${removed} finished events older than ${this.config.logs.retentionDays} days`);
    return removed;
  }

  /** Execution logs written before the retention period. Answers how many went. */
  async removeExpiredLogs(now = Date.now()): Promise<number> {
    const cutoff = this.cutoff(now);
    const removed = await inBatches(
      LOG_BATCH,
      (afterId, limit) => this.logs.createdBefore(cutoff, afterId, limit),
      (ids) => this.logs.purge(ids),
    );
    if (removed > 0) this.logger.log(`Removed ${removed} execution logs older than ${this.config.logs.retentionDays} days`);
    return removed;
  }

  /** Audit rows are kept unless AUDIT_RETENTION is set; then those older than it go. Answers how many went. */
  async removeExpiredAudit(now = Date.now()): Promise<number> {
    const { retentionMs } = this.config.audit;
    if (retentionMs === 0) return 0;
    const cutoff = now - retentionMs;
    const removed = await inBatches(
      AUDIT_BATCH,
      (afterId, limit) => this.audit.createdBefore(cutoff, afterId, limit),
      (ids) => this.audit.purge(ids),
    );
    if (removed > 0) this.logger.log(`Removed ${removed} audit rows older than AUDIT_RETENTION`);
    return removed;
  }

  private cutoff(now: number): number {
    return now - this.config.logs.retentionDays * 86_400_000;
  }
}

/**
 * The one batch-delete loop: `select` answers the next ids (after `afterId`, ascending, at
 * most `limit`), `remove` deletes those it may and answers how many. Walking by id, rows kept
 * (an event still being delivered) are passed over, not read again.
 */
async function inBatches(
  limit: number,
  select: (afterId: number, limit: number) => Promise<number[]>,
  remove: (ids: number[]) => Promise<number>,
): Promise<number> {
  let removed = 0;
  for (let afterId = 0; ; ) {
    const ids = await select(afterId, limit);
    if (ids.length > 0) removed += await remove(ids);
    if (ids.length < limit) return removed;
    afterId = ids[ids.length - 1]!;
  }
}
