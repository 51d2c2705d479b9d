import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AcceptedEventDto } from './event.dto.js';

/** Body of POST /api/v1/sources/{entity}/changes (validated by the entity's adapter). */
export class SourceChangeDto {
  @ApiProperty({
    example: 'update',
    description:
      'create | update | delete, or the entity\'s own operations: subscription assign|activate|deactivate|renew|close, ' +
      'import process_success|process_failed, rates-email import|rate_tables_no_match|no_attachments|file_processing_error',
  })
  op: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The entity before the change, in CoreAPI shape' })
  before?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The entity after the change, in CoreAPI shape' })
  after?: Record<string, unknown>;

  @ApiPropertyOptional({ example: '2026-11-22T10:15:30+00:00', description: 'When it happened, ISO 8601 with offset; default now' })
  dt?: string;

  @ApiPropertyOptional({ description: 'A repeat with the same key answers the first result and creates nothing' })
  idempotency_key?: string;
}

export class SourceChangeResultDto {
  @ApiProperty({ example: 'client' }) entity: string;
  @ApiProperty({ example: 'update' }) op: string;
  @ApiProperty({ type: [AcceptedEventDto], description: 'The events derived, in their fixed order, each accepted like a posted event' })
  events: AcceptedEventDto[];
  @ApiProperty({ example: '2 events derived and accepted' }) message: string;
}
