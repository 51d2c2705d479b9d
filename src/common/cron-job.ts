import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';

/**
 * Starts a job on a cron expression from the configuration (checked at start, see
 * src/config/app-config.ts), registered under `name` with the SchedulerRegistry, which stops
 * every registered job when the application shuts down. A tick runs `work`; a failure goes to
 * `onError`, and the next tick runs as planned.
 */
export function startCronJob(scheduler: SchedulerRegistry, name: string, cronTime: string, work: () => Promise<unknown>, onError: (error: Error) => void): void {
  const job = CronJob.from({ cronTime, onTick: () => void work().catch(onError) });
  scheduler.addCronJob(name, job);
  job.start();
}
