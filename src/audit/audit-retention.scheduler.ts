import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { AppConfig } from '../config/app-config.js';
import { AuditStore } from './audit-store.js';

const JOB = 'audit-retention';

/**
 * Audit rows are kept: they are not removed with the execution logs. Only with AUDIT_RETENTION
 * set are rows older than it deleted, on the logs' schedule (LOG_CLEANUP_CRON).
 */
@Injectable()
export class AuditRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AuditRetentionScheduler.name);

  constructor(
    private readonly audit: AuditStore,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const retentionMs = this.config.audit.retentionMs;
    if (retentionMs === 0) return;
    const job = CronJob.from({
      cronTime: this.config.logs.cleanupCron,
      onTick: () =>
        void this.audit.removeOlderThan(Date.now() - retentionMs).catch((error: Error) => this.logger.error(`Audit cleanup failed: ${error.message}`)),
    });
    this.scheduler.addCronJob(JOB, job);
    job.start();
  }

  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('cron', JOB)) this.scheduler.deleteCronJob(JOB);
  }
}
