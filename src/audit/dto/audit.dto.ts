import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { CursorPageQueryDto } from '../../common/pagination.dto.js';
import { IsCalendarDate, MAX_ID, QueryInteger } from '../../common/validation.js';
import { AUDIT_ACTION_NAMES, AUDIT_ACTOR_TYPES, AUDIT_TARGET_TYPES, AuditAction, AuditTargetType } from '../audit-actions.js';
import { AuditRecord } from '../audit-store.js';


export class ListAuditQueryDto extends CursorPageQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Changes made with this API key (its id)' })
  @IsOptional()
  @QueryInteger(1, MAX_ID)
  actor_key_id?: number;

  @ApiPropertyOptional({ enum: AUDIT_ACTION_NAMES, description: 'One kind of change' })
  @IsOptional()
  @IsIn(AUDIT_ACTION_NAMES)
  action?: AuditAction;

  @ApiPropertyOptional({ enum: AUDIT_TARGET_TYPES, description: 'Changes to this kind of record' })
  @IsOptional()
  @IsIn(AUDIT_TARGET_TYPES)
  target_type?: AuditTargetType;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Changes to the record with this id (with target_type: of that kind)' })
  @IsOptional()
  @QueryInteger(1, MAX_ID)
  target_id?: number;

  @ApiPropertyOptional({ format: 'date-time', description: 'Changes at or after this time' })
  @IsOptional()
  @IsCalendarDate()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Changes at or before this time' })
  @IsOptional()
  @IsCalendarDate()
  to?: string;
}

export class AuditActorDto {
  @ApiProperty({ enum: AUDIT_ACTOR_TYPES, description: 'api_key: a request with an API key; cli: the keys command on the host (npm run keys); system: the service itself' })
  type: string;
  @ApiProperty({ nullable: true, type: Number, description: 'The API key (api_key only)', example: 3 })
  key_id: number | null;
  @ApiProperty({ description: "The key's name at the time, or the command or service", example: 'operations console' })
  name: string;
}

const RECORD_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  nullable: true,
  description: 'The record as the API shows it, with every secret (signing secrets, credential header values, credentials) replaced by ********',
} as const;

export class AuditEntryDto {
  @ApiProperty() id: number;
  @ApiProperty({ format: 'date-time', description: 'When the change was made' }) at: string;
  @ApiProperty({ type: AuditActorDto }) actor: AuditActorDto;
  @ApiProperty({ nullable: true, type: String, description: 'Address the request came from (the connection peer); null outside a request', example: '10.0.4.17' })
  client_address: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'X-Request-Id of the request, as in the logs; null outside a request' })
  request_id: string | null;
  @ApiProperty({ enum: AUDIT_ACTION_NAMES, example: 'handler.update' }) action: string;
  @ApiProperty({ enum: AUDIT_TARGET_TYPES, example: 'handler' }) target_type: string;
  @ApiProperty({ nullable: true, type: Number, description: 'The changed record; null when the change has no one record (cache.refresh)' })
  target_id: number | null;
  @ApiProperty({ ...RECORD_SCHEMA, example: { id: 7, name: 'CRM', status: 'enabled', headers: { 'X-Api-Token': '********' } } })
  before: Record<string, unknown> | null;
  @ApiProperty({ ...RECORD_SCHEMA, example: { id: 7, name: 'CRM', status: 'disabled', headers: { 'X-Api-Token': '********' } } })
  after: Record<string, unknown> | null;

  static from(record: AuditRecord): AuditEntryDto {
    return {
      id: record.id,
      at: new Date(record.createdAt).toISOString(),
      actor: { type: record.actor.type, key_id: record.actor.keyId, name: record.actor.name },
      client_address: record.clientAddress,
      request_id: record.requestId,
      action: record.action,
      target_type: record.targetType,
      target_id: record.targetId,
      before: record.before as Record<string, unknown> | null,
      after: record.after as Record<string, unknown> | null,
    };
  }
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto], description: 'Newest first (by id)' }) items: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Send as cursor (with the same filters) for the next, older page; null on the last page' })
  next_cursor: string | null;
  @ApiProperty({ description: 'Whether an older page follows' }) has_more: boolean;
}
