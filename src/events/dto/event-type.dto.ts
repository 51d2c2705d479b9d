import { ApiProperty } from '@nestjs/swagger';

export class EnvelopeEventDto {
  @ApiProperty({ example: '2026-11-22T10:15:30+00:00', description: 'When the event occurred, ISO 8601 with offset' })
  dt: string;
  @ApiProperty({ example: 'clients.update' })
  events_id: string;
  @ApiProperty({ example: 12, description: 'ID of the entity the event happened to' })
  object_id: number;
}

export class EnvelopeDto {
  @ApiProperty({ type: EnvelopeEventDto })
  event: EnvelopeEventDto;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { id: 12, name: 'My changed name' } })
  data: Record<string, unknown>;
}

export class EventTypeDto {
  @ApiProperty({ example: 'clients.update' }) id: string;
  @ApiProperty({ example: 'Clients' }) group: string;
  @ApiProperty() description: string;
  @ApiProperty({ example: 'client', description: "CoreAPI entity the event is about; for the service's own operational events, handler or delivery" }) entity: string;
  @ApiProperty({ type: EnvelopeDto, description: 'A sample of what a handler receives' }) sample: EnvelopeDto;
}

export class EventGroupDto {
  @ApiProperty({ example: 'Clients' }) name: string;
  @ApiProperty({ type: [EventTypeDto] }) events: EventTypeDto[];
}

export class EventCatalogDto {
  @ApiProperty({ example: 41 }) total: number;
  @ApiProperty({ type: [EventGroupDto] }) groups: EventGroupDto[];
}

export class EventTypeDetailDto extends EventTypeDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON schema of the event\'s data (CoreAPI shape, unknown fields pass through; for operational events the exact fields the service sends)' })
  data_schema: Record<string, unknown>;
}
