import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { AppConfig } from '../config/app-config.js';
import { ExecutionLogsService } from './execution-logs.service.js';

const JOB = 'execution-log-retention';

/** Schedules the retention cleaner on LOG_CLEANUP_CRON; the work itself is in ExecutionLogsService. */
@Injectable()
export class LogRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LogRetentionScheduler.name);

  constructor(
    private readonly logs: ExecutionLogsService,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    const job = CronJob.from({
      cronTime: this.config.logs.cleanupCron,
      onTick: () => void this.logs.removeExpired().catch((error: Error) => this.logger.error(`Log cleanup failed: ${error.message}`)),
    });
    this.scheduler.addCronJob(JOB, job);
    job.start();
  }

  onApplicationShutdown(): void {
    if (this.scheduler.doesExist('cron', JOB)) this.scheduler.deleteCronJob(JOB);
  }
}
