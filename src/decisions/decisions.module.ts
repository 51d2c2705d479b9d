import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { CallsModule } from '../calls/calls.module.js';
import { ExecutionLogsModule } from '../execution-logs/execution-logs.module.js';
import { DecisionService } from './decision.service.js';
import { DecisionsController } from './decisions.controller.js';

/** `before` decisions: POST /api/v1/events/decide runs the event's before handlers now, in priority order. */
@Module({
  imports: [CacheManagerModule, CallsModule, ExecutionLogsModule],
  controllers: [DecisionsController],
  providers: [DecisionService],
})
export class DecisionsModule {}
