import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { MAX_PAGE, MAX_PER_PAGE } from '../../common/pagination.dto.js';
import { IsCalendarDate, MAX_ID, QueryInteger } from '../../common/validation.js';
import { ExecutionLog } from '../execution-log.js';
import { MAX_CURSOR_LENGTH } from '../../common/list-cursor.js';

export const DEFAULT_LOG_LIMIT = 50;
export const MAX_LOG_LIMIT = 500;

export class ListExecutionLogsQueryDto {
  @ApiPropertyOptional({
    maxLength: MAX_CURSOR_LENGTH,
    description:
      'Where the page starts: the next_cursor of the previous page, unchanged. Absent: the newest rows. ' +
      'A cursor holds a position only: send the same filters with every page (other filters: INVALID_CURSOR).',
  })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LOG_LIMIT, default: DEFAULT_LOG_LIMIT, description: 'Rows per page' })
  @IsOptional()
  @QueryInteger(1, MAX_LOG_LIMIT)
  limit?: number;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description: 'true: also count the rows that match the filters, bounded in rows and time (see `count` in the answer)',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  count?: 'true' | 'false';

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE,
    deprecated: true,
    description: 'Deprecated (use cursor): page number; page or per_page switch to the old paging, with an exact total that gets slow on large tables',
  })
  @IsOptional()
  @QueryInteger(1, MAX_PAGE)
  page?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_PER_PAGE, deprecated: true, description: 'Deprecated (use limit): rows per page of the old paging' })
  @IsOptional()
  @QueryInteger(1, MAX_PER_PAGE)
  per_page?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Handler id' })
  @IsOptional()
  @QueryInteger(1, MAX_ID)
  handler_id?: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 100, description: 'Event ID of the catalog, e.g. clients.update' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  event?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Id of one accepted event' })
  @IsOptional()
  @QueryInteger(1, MAX_ID)
  event_id?: number;

  @ApiPropertyOptional({ enum: ['success', 'fail', 'skipped'] })
  @IsOptional()
  @IsIn(['success', 'fail', 'skipped'])
  status?: 'success' | 'fail' | 'skipped';

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'Text the error contains (case-insensitive)' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  error?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Calls at or after this time' })
  @IsOptional()
  @IsCalendarDate()
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Calls at or before this time' })
  @IsOptional()
  @IsCalendarDate()
  to?: string;
}

export class ExecutionLogDto {
  @ApiProperty() id: number;
  @ApiProperty({ enum: ['success', 'fail', 'skipped'] }) status: string;
  @ApiProperty({ format: 'date-time', description: 'When the call was made' }) date: string;
  @ApiProperty({ example: 'clients.update' }) event: string;
  @ApiProperty({ nullable: true, type: Number }) event_id: number | null;
  @ApiProperty({ nullable: true, type: Number }) delivery_id: number | null;
  @ApiProperty() handler_id: number;
  @ApiProperty({ description: 'Handler name at the time of the call' }) handler_name: string;
  @ApiProperty() object_id: number;
  @ApiProperty({ enum: ['after', 'before'] }) stage: string;
  @ApiProperty({ description: '1 for the first attempt' }) attempt: number;
  @ApiProperty({ enum: ['auto', 'manual', 'test'] }) trigger: string;
  @ApiProperty({ nullable: true, type: Number }) response_code: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'Response body, capped' }) response_data: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty() duration_ms: number;

  static from(log: ExecutionLog): ExecutionLogDto {
    return {
      id: log.id,
      status: log.status,
      date: new Date(log.createdAt).toISOString(),
      event: log.eventType,
      event_id: log.eventId,
      delivery_id: log.deliveryId,
      handler_id: log.handlerId,
      handler_name: log.handlerName,
      object_id: log.objectId,
      stage: log.stage,
      attempt: log.attempt,
      trigger: log.trigger,
      response_code: log.responseCode,
      response_data: log.responseBody,
      error: log.error,
      duration_ms: log.durationMs,
    };
  }
}

export class ExecutionLogDetailDto extends ExecutionLogDto {
  @ApiProperty({ description: 'The request body sent (the envelope)' }) request_payload: string;

  static detail(log: ExecutionLog): ExecutionLogDetailDto {
    return { ...ExecutionLogDto.from(log), request_payload: log.requestPayload };
  }
}

export class ExecutionLogCountDto {
  @ApiProperty({ minimum: 0, description: 'Rows matching the filters (all pages); when exact is false, a lower bound: there are at least this many' })
  value: number;
  @ApiProperty({ description: 'false when the count stopped at its row cap or time limit' })
  exact: boolean;
}

export class ExecutionLogPageDto {
  @ApiProperty({ type: [ExecutionLogDto], description: 'Newest first (by id)' }) items: ExecutionLogDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Send as cursor (with the same filters) for the next, older page; null on the last page' })
  next_cursor: string | null;
  @ApiProperty({ description: 'Whether an older page follows' }) has_more: boolean;
  @ApiPropertyOptional({ type: ExecutionLogCountDto, description: 'Only with count=true' }) count?: ExecutionLogCountDto;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page: exact number of rows matching the filters' }) total?: number;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page' }) page?: number;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page' }) per_page?: number;
}
