import { Controller, Get, Param } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { DomainError } from '../common/errors.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { Auth } from '../api-keys/auth.decorators.js';
import { ALL_EVENTS, EVENT_CATALOG, EVENT_GROUPS, EventDefinition, findEvent, OPERATIONAL_EVENTS, OPERATIONAL_GROUP, sampleEnvelope } from './event-catalog.js';
import { EventCatalogDto, EventTypeDetailDto, EventTypeDto } from './dto/event-type.dto.js';
import { eventDataSchema } from './event-schemas.js';

function toDto(event: EventDefinition): EventTypeDto {
  return { id: event.id, group: event.group, description: event.description, entity: event.entity, sample: sampleEnvelope(event) };
}

@ApiTags('Events')
@Controller('api/v1/event-types')
@Auth('admin', 'read', 'events', 'internal')
export class EventTypesController {
  @Get()
  @ApiOperation({
    summary: "The event catalog, grouped, with a description and sample payload per event; the service's own operational events (provisioning.*) come last",
  })
  @ApiOkResponse({ type: EventCatalogDto })
  list(): EventCatalogDto {
    return {
      total: ALL_EVENTS.length,
      groups: [
        ...EVENT_GROUPS.map((name) => ({ name, events: EVENT_CATALOG.filter((e) => e.group === name).map(toDto) })),
        { name: OPERATIONAL_GROUP, events: OPERATIONAL_EVENTS.map(toDto) },
      ],
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One event of the catalog, with the JSON schema of its data and a sample' })
  @ApiParam({ name: 'id', description: 'An event ID of the catalog', example: 'clients.update' })
  @ApiOkResponse({ type: EventTypeDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EVENT_TYPE_NOT_FOUND' })
  get(@Param('id') id: string): EventTypeDetailDto {
    const event = findEvent(id);
    if (!event) throw DomainError.field('EVENT_TYPE_NOT_FOUND', 'id', `"${id}" is not an event of the catalog`);
    return { ...toDto(event), data_schema: eventDataSchema(event) };
  }
}
