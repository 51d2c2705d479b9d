import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { EventTypesController } from './event-types.controller.js';
import { EventsController } from './events.controller.js';
import { IngestService } from './ingest.service.js';

@Module({
  imports: [CacheManagerModule, DispatcherModule],
  controllers: [EventTypesController, EventsController],
  providers: [IngestService],
})
export class EventsModule {}
