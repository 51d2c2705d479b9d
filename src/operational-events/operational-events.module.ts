import { Global, Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module.js';
import { OperationalEvents } from './operational-events.service.js';

/**
 * The service's own events (provisioning.*). Global: they are emitted where the state changes
 * — handlers (an operator's disable), the dispatcher (an automatic disable, an exhausted
 * delivery) and the queue (pauses, circuits) — and none of those modules should have to import
 * the events module for it.
 */
@Global()
@Module({
  imports: [EventsModule],
  providers: [OperationalEvents],
  exports: [OperationalEvents],
})
export class OperationalEventsModule {}
