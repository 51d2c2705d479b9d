import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { ExecutionLogPartitions } from './execution-log-partitions.js';
import { ExecutionLogsController } from './execution-logs.controller.js';
import { ExecutionLogsService } from './execution-logs.service.js';
import { LogDates } from './log-dates.js';

@Module({
  // The detail rebuilds a delivery's payload from its event (EventStore.envelopeOf).
  imports: [EventsModule],
  controllers: [ExecutionLogsController],
  providers: [ExecutionLogsService, ExecutionLogPartitions, LogDates],
  exports: [ExecutionLogsService, ExecutionLogPartitions, LogDates],
})
export class ExecutionLogsModule {}
