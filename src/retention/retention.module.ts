import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { ExecutionLogsModule } from '../execution-logs/execution-logs.module.js';
import { QueueModule } from '../queue/queue.module.js';
import { RetentionService } from './retention.service.js';

/** Retention of events, their deliveries and execution logs, through the owners' purge steps. */
@Module({
  imports: [EventsModule, QueueModule, ExecutionLogsModule],
  providers: [RetentionService],
})
export class RetentionModule {}
