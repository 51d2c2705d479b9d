import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { DeliveredLogsModule } from '../execution-logs/delivered-logs.js';
import { QueueModule } from '../queue/queue.module.js';
import { EventStore } from './event-store.js';
import { EventTypesController } from './event-types.controller.js';
import { EventsController } from './events.controller.js';
import { IngestService } from './ingest.service.js';
import { SourceChangesService } from './source-changes.service.js';
import { SourcesController } from './sources.controller.js';

@Module({
  // DeliveredLogsModule: the event detail and replays read the deliveries that succeeded (and left the queue) from their log rows.
  imports: [CacheManagerModule, QueueModule, DeliveredLogsModule],
  controllers: [EventTypesController, EventsController, SourcesController],
  providers: [EventStore, IngestService, SourceChangesService],
  // IngestService: the operational events (src/operational-events/) are stored through it too.
  exports: [EventStore, IngestService],
})
export class EventsModule {}
