import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { QueueModule } from '../queue/queue.module.js';
import { HandlersModule } from '../handlers/handlers.module.js';
import { MetricsController } from './metrics.controller.js';
import { RuntimeGauges } from './runtime-gauges.js';

@Module({ imports: [CacheManagerModule, DispatcherModule, QueueModule, HandlersModule], controllers: [MetricsController], providers: [RuntimeGauges] })
export class MetricsControllerModule {}
