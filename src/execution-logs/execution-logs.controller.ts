import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { idParam } from '../common/validation.js';
import { Auth } from '../api-keys/auth.decorators.js';
import { ExecutionLogsService, LogQuery } from './execution-logs.service.js';
import { ExecutionLogDetailDto, ExecutionLogDto, ExecutionLogPageDto, ListExecutionLogsQueryDto } from './dto/execution-log.dto.js';

export function toLogQuery(query: ListExecutionLogsQueryDto, handlerId?: number): LogQuery {
  return {
    handlerId: handlerId ?? query.handler_id,
    eventsId: query.event,
    eventId: query.event_id,
    status: query.status,
    errorText: query.error,
    from: query.from === undefined ? undefined : Date.parse(query.from),
    to: query.to === undefined ? undefined : Date.parse(query.to),
    page: query.page ?? 1,
    perPage: query.per_page ?? 50,
  };
}

@ApiTags('Execution logs')
@Controller('api/v1')
@Auth('admin', 'read')
export class ExecutionLogsController {
  constructor(private readonly logs: ExecutionLogsService) {}

  @Get('execution-logs')
  @ApiOperation({ summary: 'Every handler call, newest first; filter by handler, event, status, error text, time' })
  @ApiOkResponse({ type: ExecutionLogPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  async list(@Query() query: ListExecutionLogsQueryDto): Promise<ExecutionLogPageDto> {
    const page = await this.logs.list(toLogQuery(query));
    return { ...page, items: page.items.map(ExecutionLogDto.from) };
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
  async forHandler(@Param('id', idParam()) id: number, @Query() query: ListExecutionLogsQueryDto): Promise<ExecutionLogPageDto> {
    const page = await this.logs.list(toLogQuery(query, id));
    return { ...page, items: page.items.map(ExecutionLogDto.from) };
  }
}
