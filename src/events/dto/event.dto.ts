import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMinSize, IsArray, IsObject, IsString, Length } from 'class-validator';
import { FieldProblemDto } from '../../common/error-response.dto.js';
import { IsIntegerInRange, MAX_ID, Omittable } from '../../common/validation.js';

export class PostEventDto {
  @ApiProperty({ example: 'clients.update', minLength: 1, maxLength: 100, description: 'An event ID of the catalog' })
  @IsString()
  @Length(1, 100)
  event: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, example: 12, description: 'ID of the entity the event happened to' })
  @IsIntegerInRange(1, MAX_ID)
  object_id: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { id: 12, name: 'My changed name' },
    description: "The entity in CoreAPI shape; known fields are type-checked, unknown ones passed through. Default {}",
  })
  @Omittable()
  @IsObject()
  data?: Record<string, unknown>;

  @ApiPropertyOptional({ example: '2026-11-22T10:15:30+00:00', description: 'When it occurred, ISO 8601 with offset; default now' })
  @Omittable()
  @IsString()
  dt?: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 200,
    description: 'A repeat with the same key answers the first event and creates nothing (or send Idempotency-Key). Printable ASCII; use a new key per event.',
  })
  @Omittable()
  @IsString()
  @Length(1, 200)
  idempotency_key?: string;
}

export class PostEventBatchDto {
  @ApiProperty({ type: [PostEventDto], minItems: 1, description: '1 to MAX_BATCH_EVENTS (default 500) events; each is validated and answered on its own' })
  @IsArray()
  @ArrayMinSize(1)
  events: unknown[];
}

export class PlannedDeliveryDto {
  @ApiProperty() handler_id: number;
  @ApiProperty({ nullable: true, type: String }) handler_name: string | null;
  @ApiProperty({ description: 'Position in the run order (0 runs first)' }) seq: number;
}

export class AcceptedEventDto {
  @ApiProperty() id: number;
  @ApiProperty({ example: 'clients.update' }) event: string;
  @ApiProperty() object_id: number;
  @ApiProperty() dt: string;
  @ApiProperty({ nullable: true, type: String }) idempotency_key: string | null;
  @ApiProperty({ description: 'true when this answers an earlier post with the same idempotency key' }) replayed: boolean;
  @ApiProperty({ type: [PlannedDeliveryDto], description: 'The handlers that will be called, in order' }) deliveries: PlannedDeliveryDto[];
}

export class BatchItemErrorDto {
  @ApiProperty() code: string;
  @ApiProperty() message: string;
  @ApiProperty({ type: [FieldProblemDto] }) details: FieldProblemDto[];
}

export class BatchItemResultDto {
  @ApiProperty() index: number;
  @ApiProperty({ enum: ['accepted', 'replayed', 'rejected'] }) status: 'accepted' | 'replayed' | 'rejected';
  @ApiPropertyOptional({ type: AcceptedEventDto }) event?: AcceptedEventDto;
  @ApiPropertyOptional({ type: BatchItemErrorDto }) error?: BatchItemErrorDto;
}

export class BatchResultDto {
  @ApiProperty() accepted: number;
  @ApiProperty() replayed: number;
  @ApiProperty() rejected: number;
  @ApiProperty({ type: [BatchItemResultDto] }) items: BatchItemResultDto[];
}

export class DeliveryStateDto {
  @ApiProperty() id: number;
  @ApiProperty() handler_id: number;
  @ApiProperty({ nullable: true, type: String }) handler_name: string | null;
  @ApiProperty() seq: number;
  @ApiProperty({ enum: ['pending', 'in_progress', 'succeeded', 'failed', 'skipped'] }) status: string;
  @ApiProperty() attempts: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) next_attempt_at: string | null;
  @ApiProperty({ nullable: true, type: Number }) last_response_code: number | null;
  @ApiProperty({ nullable: true, type: String }) last_error: string | null;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}

export class EventDetailDto {
  @ApiProperty() id: number;
  @ApiProperty() event: string;
  @ApiProperty() object_id: number;
  @ApiProperty() dt: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data: Record<string, unknown>;
  @ApiProperty({ nullable: true, type: String }) idempotency_key: string | null;
  @ApiProperty({ format: 'date-time' }) accepted_at: string;
  @ApiProperty({ type: [DeliveryStateDto] }) deliveries: DeliveryStateDto[];
}
