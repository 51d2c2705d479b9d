import { Module } from '@nestjs/common';
import { CallsModule } from '../calls/calls.module.js';
import { HandlersModule } from '../handlers/handlers.module.js';
import { ExecutionLogsModule } from '../execution-logs/execution-logs.module.js';
import { QueueModule } from '../queue/queue.module.js';
import { DeliveriesController } from './deliveries.controller.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryRunner } from './delivery-runner.js';
import { DispatcherService } from './dispatcher.service.js';
import { OutcomeWriter } from './outcome-writer.js';
import { FlowControl } from './flow-control.js';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';

@Module({
  imports: [CallsModule, HandlersModule, ExecutionLogsModule, CacheManagerModule, QueueModule],
  controllers: [DeliveriesController],
  providers: [FlowControl, OutcomeWriter, DeliveryRunner, DispatcherService, DeliveriesService],
  exports: [DispatcherService],
})
export class DispatcherModule {}
