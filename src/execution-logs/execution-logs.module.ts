import { Module } from '@nestjs/common';
import { ExecutionLogsController } from './execution-logs.controller.js';
import { ExecutionLogsService } from './execution-logs.service.js';

@Module({
  controllers: [ExecutionLogsController],
  providers: [ExecutionLogsService],
  exports: [ExecutionLogsService],
})
export class ExecutionLogsModule {}
