import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { num } from '../database/sql.js';

const JOB = 'event-retention';
const BATCH = 500;

/**
 * Deletes events (and their deliveries) accepted longer ago than the retention period once none
 * of their deliveries is still pending or running; runs on LOG_CLEANUP_CRON, a batch at a time.
 * Their execution logs follow their own retention.
 */
@Injectable()
export class EventRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRetentionService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const job = CronJob.from({
      cronTime: this.config.logs.cleanupCron,
      onTick: () => void this.removeExpired().catch((error: Error) => this.logger.error(`Event cleanup failed: ${error.message}`)),
    });
    this.scheduler.addCronJob(JOB, job);
    job.start();
  }

  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('cron', JOB)) this.scheduler.deleteCronJob(JOB);
  }

  async removeExpired(now = Date.now()): Promise<number> {
    const cutoff = now - this.config.logs.retentionDays * 86_400_000;
    let removed = 0;
    for (;;) {
      const rows: { id: unknown }[] = await this.dataSource.query(
        `SELECT e.id FROM events e
          WHERE e.accepted_at < ?
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'in_progress'))
          ORDER BY e.id LIMIT ?`,
        [cutoff, BATCH],
      );
      if (rows.length === 0) break;
      const ids = rows.map((row) => num(row.id));
      const list = ids.map(() => '?').join(', ');
      await this.dataSource.transaction(async (manager) => {
        await manager.query(`DELETE FROM deliveries WHERE event_id IN (${list})`, ids);
        await manager.query(`DELETE FROM events WHERE id IN (${list})`, ids);
      });
      removed += ids.length;
      if (rows.length < BATCH) break;
    }
    if (removed > 0) this.logger.log(`Removed ${removed} finished events older than ${this.config.logs.retentionDays} days`);
    return removed;
  }
}
