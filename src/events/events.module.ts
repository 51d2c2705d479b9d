import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { DispatcherModule } from '../dispatcher/dispatcher.module.js';
import { EventTypesController } from './event-types.controller.js';
import { EventsController } from './events.controller.js';
import { IngestService } from './ingest.service.js';
import { SourceChangesService } from './source-changes.service.js';
import { SourcesController } from './sources.controller.js';

@Module({
  imports: [CacheManagerModule, DispatcherModule],
  controllers: [EventTypesController, EventsController, SourcesController],
  providers: [IngestService, SourceChangesService],
})
export class EventsModule {}
