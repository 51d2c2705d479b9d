import { Module } from '@nestjs/common';
import { HttpModule } from '@nestjs/axios';
import { HandlersModule } from '../handlers/handlers.module.js';
import { ExecutionLogsModule } from '../execution-logs/execution-logs.module.js';
import { QueueModule } from '../queue/queue.module.js';
import { DeliveriesController } from './deliveries.controller.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryRunner } from './delivery-runner.js';
import { DispatcherService } from './dispatcher.service.js';
import { HttpExecutor } from './http-executor.js';
import { OutcomeWriter } from './outcome-writer.js';
import { ScriptExecutor } from './script-executor.js';
import { DecisionService } from './decision.service.js';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';

@Module({
  imports: [HttpModule, HandlersModule, ExecutionLogsModule, CacheManagerModule, QueueModule],
  controllers: [DeliveriesController],
  providers: [OutcomeWriter, HttpExecutor, ScriptExecutor, DeliveryRunner, DispatcherService, DeliveriesService, DecisionService],
  exports: [DispatcherService, DecisionService],
})
export class DispatcherModule {}
