import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { MAX_PAGE, MAX_PER_PAGE, CursorPageQueryDto } from '../../common/pagination.dto.js';
import { IsCalendarDate, MAX_ID, QueryInteger } from '../../common/validation.js';
import { ExecutionLog } from '../execution-log.js';
import { ERROR_KINDS, ErrorKind } from '../../calls/call-result.js';
import type { ExecutionLogDetail, PayloadSource, SearchWindow } from '../execution-logs.service.js';


export class ListExecutionLogsQueryDto extends CursorPageQueryDto {
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

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: 'Object id of the event (the entity it is about)' })
  @IsOptional()
  @QueryInteger(1, MAX_ID)
  object_id?: number;

  @ApiPropertyOptional({ enum: ['success', 'fail', 'skipped'] })
  @IsOptional()
  @IsIn(['success', 'fail', 'skipped'])
  status?: 'success' | 'fail' | 'skipped';

  @ApiPropertyOptional({ enum: ERROR_KINDS, description: 'Kind of failure (exact; see error_kind in the answer)' })
  @IsOptional()
  @IsIn(ERROR_KINDS)
  error_kind?: ErrorKind;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 200,
    description:
      'Text the error contains (case-insensitive). A search: each page examines at most LOG_SEARCH_WINDOW_ROWS rows (default 10,000); ' +
      'a page that ends there says so in search_window and next_cursor searches on. Prefer error_kind, which is exact.',
  })
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
  @ApiProperty({ enum: [...ERROR_KINDS, null], type: String, nullable: true, description: 'Kind of failure (docs/errors.md); null on success' })
  error_kind: ErrorKind | null;
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
      error_kind: log.errorKind,
      duration_ms: log.durationMs,
    };
  }
}

export const PAYLOAD_SOURCES: readonly PayloadSource[] = ['stored', 'event', 'removed'];

export class ExecutionLogDetailDto extends ExecutionLogDto {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'The request body sent (the envelope), byte for byte; null when it can no longer be rebuilt (see request_payload_source)',
  })
  request_payload: string | null;
  @ApiProperty({
    enum: PAYLOAD_SOURCES,
    description:
      'stored: kept with this row (before-stage calls, test sends, rows written before payloads were stored once); ' +
      "event: rebuilt from the delivery's event, where a delivery's payload is stored once for all its handlers and attempts; " +
      'removed: the event was removed by retention before this row was (a retry or manual retry made after the event was accepted), so the payload is gone',
  })
  request_payload_source: PayloadSource;

  /** A row just written by a test send keeps its payload; a row read back says where its payload came from. */
  static detail(log: ExecutionLog | ExecutionLogDetail): ExecutionLogDetailDto {
    const payload = 'payloadSource' in log ? log.requestPayload : typeof log.requestPayload === 'string' ? log.requestPayload : null;
    const source: PayloadSource = 'payloadSource' in log ? log.payloadSource : payload === null ? 'removed' : 'stored';
    return { ...ExecutionLogDto.from(log), request_payload: payload, request_payload_source: source };
  }
}

export class SearchWindowDto {
  @ApiProperty({ description: 'The most rows one page of a search examines (LOG_SEARCH_WINDOW_ROWS)' }) rows: number;
  @ApiProperty({ format: 'date-time', description: 'This page looked at calls back to this time only; next_cursor searches on from there' })
  searched_back_to: string;

  static from(window: SearchWindow): SearchWindowDto {
    return { rows: window.rows, searched_back_to: new Date(window.searchedBackTo).toISOString() };
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
  @ApiPropertyOptional({
    type: SearchWindowDto,
    description:
      'Only on a page of a search (error text, or two filters no single index answers) that examined its whole window before it was full: ' +
      'the page may be short or empty, and has_more says older rows remain to be searched',
  })
  search_window?: SearchWindowDto;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page: exact number of rows matching the filters' }) total?: number;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page' }) page?: number;
  @ApiPropertyOptional({ deprecated: true, description: 'Only with page or per_page' }) per_page?: number;
}
