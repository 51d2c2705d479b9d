import { Module } from '@nestjs/common';
import { CallsModule } from '../calls/calls.module.js';
import { HandlersModule } from '../handlers/handlers.module.js';
import { ExecutionLogsModule } from '../execution-logs/execution-logs.module.js';
import { DeliveriesController } from './deliveries.controller.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryRunner } from './delivery-runner.js';
import { DispatcherService } from './dispatcher.service.js';
import { WorkSignal } from './work-signal.js';
import { OutcomeWriter } from './outcome-writer.js';
import { EventRetentionService } from './event-retention.service.js';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';

@Module({
  imports: [CallsModule, HandlersModule, ExecutionLogsModule, CacheManagerModule],
  controllers: [DeliveriesController],
  providers: [WorkSignal, DeliveryQueue, OutcomeWriter, DeliveryRunner, DispatcherService, DeliveriesService, EventRetentionService],
  exports: [WorkSignal, DispatcherService],
})
export class DispatcherModule {}
