import { Module } from '@nestjs/common';
import { ExecutionLogsController } from './execution-logs.controller.js';
import { ExecutionLogsService } from './execution-logs.service.js';
import { LogRetentionScheduler } from './log-retention.scheduler.js';

@Module({
  controllers: [ExecutionLogsController],
  providers: [ExecutionLogsService, LogRetentionScheduler],
  exports: [ExecutionLogsService],
})
export class ExecutionLogsModule {}
