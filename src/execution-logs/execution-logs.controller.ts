import { DEFAULT_LIST_LIMIT } from '../common/pagination.dto.js';
import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { idParam } from '../common/validation.js';
import { Auth } from '../api-keys/auth.decorators.js';
import { DomainError } from '../common/errors.js';
import { ExecutionLogsService, LogPage, LogQuery } from './execution-logs.service.js';
import { ExecutionLogDetailDto, ExecutionLogDto, ExecutionLogPageDto, ListExecutionLogsQueryDto, SearchWindowDto } from './dto/execution-log.dto.js';

export function toLogQuery(query: ListExecutionLogsQueryDto, handlerId?: number): LogQuery {
  return {
    handlerId: handlerId ?? query.handler_id,
    eventType: query.event,
    eventId: query.event_id,
    objectId: query.object_id,
    status: query.status,
    errorKind: query.error_kind,
    errorText: query.error,
    from: query.from === undefined ? undefined : Date.parse(query.from),
    to: query.to === undefined ? undefined : Date.parse(query.to),
    cursor: query.cursor,
    limit: query.limit ?? DEFAULT_LIST_LIMIT,
    withCount: query.count === 'true',
    legacy: query.page !== undefined || query.per_page !== undefined ? { page: query.page ?? 1, perPage: query.per_page ?? DEFAULT_LIST_LIMIT } : undefined,
  };
}

/** cursor and limit page by keyset; page and per_page (deprecated) by offset: one or the other. */
function checkPaging(query: ListExecutionLogsQueryDto): void {
  const problems = [
    query.cursor !== undefined && query.page !== undefined ? { field: 'page', message: 'page cannot be combined with cursor: send one or the other' } : null,
    query.limit !== undefined && query.per_page !== undefined ? { field: 'per_page', message: 'per_page cannot be combined with limit: send one or the other' } : null,
    query.cursor !== undefined && query.per_page !== undefined ? { field: 'per_page', message: 'per_page cannot be combined with cursor: use limit' } : null,
    query.limit !== undefined && query.page !== undefined ? { field: 'page', message: 'page cannot be combined with limit: send one or the other' } : null,
  ].filter((problem) => problem !== null);
  if (problems.length > 0) throw new DomainError('VALIDATION_FAILED', 'Request validation failed', problems);
}

function toPageDto(page: LogPage): ExecutionLogPageDto {
  const dto: ExecutionLogPageDto = { items: page.items.map(ExecutionLogDto.from), next_cursor: page.nextCursor, has_more: page.hasMore };
  if (page.count) dto.count = page.count;
  if (page.searchWindow) dto.search_window = SearchWindowDto.from(page.searchWindow);
  if (page.legacy) Object.assign(dto, { total: page.legacy.total, page: page.legacy.page, per_page: page.legacy.perPage });
  return dto;
}

@ApiTags('Execution logs')
@Controller('api/v1')
@Auth('admin', 'read')
export class ExecutionLogsController {
  constructor(private readonly logs: ExecutionLogsService) {}

  @Get('execution-logs')
  @ApiOperation({ summary: 'Every handler call, newest first; filter by handler, event, event id, object, status, error kind, error text, time' })
  @ApiOkResponse({ type: ExecutionLogPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_CURSOR' })
  async list(@Query() query: ListExecutionLogsQueryDto): Promise<ExecutionLogPageDto> {
    checkPaging(query);
    return toPageDto(await this.logs.list(toLogQuery(query)));
  }

  @Get('execution-logs/:id')
  @ApiOperation({ summary: 'One call, with the payload sent' })
  @ApiOkResponse({ type: ExecutionLogDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EXECUTION_LOG_NOT_FOUND' })
  async get(@Param('id', idParam()) id: number): Promise<ExecutionLogDetailDto> {
    return ExecutionLogDetailDto.detail(await this.logs.get(id));
  }

  @Get('handlers/:id/execution-logs')
  @ApiOperation({ summary: "One handler's calls, newest first (also after the handler was deleted)" })
  @ApiOkResponse({ type: ExecutionLogPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_CURSOR' })
  async forHandler(@Param('id', idParam()) id: number, @Query() query: ListExecutionLogsQueryDto): Promise<ExecutionLogPageDto> {
    checkPaging(query);
    return toPageDto(await this.logs.list(toLogQuery(query, id)));
  }
}
