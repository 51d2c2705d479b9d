import { idParam } from '../common/validation.js';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import {
  CreatedHandlerDto,
  CreateHandlerDto,
  CreateMaintenanceWindowDto,
  MaintenanceWindowDto,
  PauseHandlerDto,
  HandlerDto,
  HandlerPageDto,
  HandlerSecretDto,
  ListHandlersQueryDto,
  UpdateHandlerDto,
} from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { HandlersService } from './handlers.service.js';
import { HandlerPausesService } from './handler-pauses.service.js';

// Request examples for Swagger UI "Try it out": each one is accepted as it is (test/e2e/openapi-examples.e2e.test.ts).
const CREATE_EXAMPLES = {
  after: {
    summary: 'An HTTP handler called after each new client',
    value: { name: 'CRM: new clients', event: 'clients.create', type: 'http', task: '127.0.0.1:5000/api', priority: 10, headers: { 'X-Tenant': 'north' } },
  },
  before: {
    summary: 'A before handler (a gate) that lets the action through when it cannot answer',
    value: { name: 'Credit check', event: 'clients.update', type: 'https', task: 'credit.example.com/check', stage: 'before', on_failure: 'allow', timeout_ms: 2000 },
  },
};
const UPDATE_EXAMPLES = {
  rename: { summary: 'Rename and run earlier', value: { name: 'CRM: new clients (primary)', priority: 5 } },
  limits: { summary: 'At most 4 calls at once per worker and 10 calls a second in all', value: { max_concurrency: 4, rate_limit: 10, rate_period: 'second' } },
};
const PAUSE_EXAMPLES = {
  open: { summary: 'Hold deliveries until resumed', value: { reason: 'Softswitch upgrade' } },
  until: { summary: 'Hold deliveries until a time (then they go out by themselves)', value: { until: '2099-11-22T04:00:00Z', reason: 'Softswitch upgrade' } },
};
const WINDOW_EXAMPLES = {
  night: { summary: 'A two-hour maintenance window', value: { from: '2099-11-22T02:00:00Z', to: '2099-11-22T04:00:00Z', reason: 'Monthly softswitch maintenance' } },
};

const BAD_HANDLER =
  'VALIDATION_FAILED, UNKNOWN_EVENT, INVALID_TASK, TARGET_FORBIDDEN, SCRIPT_PATH_OUTSIDE, SCRIPT_NOT_FOUND, SCRIPT_HANDLERS_DISABLED, MALFORMED_JSON';

@ApiTags('Handlers')
@Controller('api/v1/handlers')
export class HandlersController {
  constructor(
    private readonly handlers: HandlersService,
    private readonly pauses: HandlerPausesService,
  ) {}

  @Post()
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Create a handler (script handlers: internal scope only)' })
  @ApiBody({ type: CreateHandlerDto, examples: CREATE_EXAMPLES })
  @ApiCreatedResponse({ type: CreatedHandlerDto, description: 'The handler, with its signing secret shown this once' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: BAD_HANDLER })
  async create(@Body() body: CreateHandlerDto, @CurrentPrincipal() principal: Principal): Promise<CreatedHandlerDto> {
    const handler = await this.handlers.create(body, principal);
    return { ...(await this.pauses.view(handler)), signing_secret: handler.signingSecret! };
  }

  @Get()
  @Auth('admin', 'read', 'internal')
  @ApiOperation({ summary: 'List handlers by priority then id; blank status shows enabled and disabled, not archived' })
  @ApiOkResponse({ type: HandlerPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  async list(@Query() query: ListHandlersQueryDto): Promise<HandlerPageDto> {
    const page = await this.handlers.list(query);
    return { ...page, items: await this.pauses.views(page.items) };
  }

  @Get(':id')
  @Auth('admin', 'read', 'internal')
  @ApiOperation({ summary: 'One handler' })
  @ApiOkResponse({ type: HandlerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async get(@Param('id', idParam()) id: number): Promise<HandlerDto> {
    return this.pauses.view(await this.handlers.get(id));
  }

  @Patch(':id')
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Edit a handler; the only way to archive or un-archive it' })
  @ApiBody({ type: UpdateHandlerDto, examples: UPDATE_EXAMPLES })
  @ApiOkResponse({ type: HandlerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: BAD_HANDLER })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async update(
    @Param('id', idParam()) id: number,
    @Body() body: UpdateHandlerDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HandlerDto> {
    return this.pauses.view(await this.handlers.update(id, body, principal));
  }

  @Post(':id/toggle')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Quick toggle enabled ↔ disabled (refused for archived handlers)' })
  @ApiOkResponse({ type: HandlerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'HANDLER_ARCHIVED' })
  async toggle(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerDto> {
    return this.pauses.view(await this.handlers.toggle(id, principal));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({
    summary: 'Pause: hold the handler\'s deliveries (none skipped, new ones queued) until resumed or until `until`; unlike disabling, which skips them',
  })
  @ApiBody({ type: PauseHandlerDto, required: false, examples: PAUSE_EXAMPLES })
  @ApiOkResponse({ type: HandlerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_PAUSE_TIME, MALFORMED_JSON' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async pause(@Param('id', idParam()) id: number, @Body() body: PauseHandlerDto, @CurrentPrincipal() principal: Principal): Promise<HandlerDto> {
    return this.pauses.pause(id, body, principal);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Resume: end the pause (and a maintenance window in force); the held deliveries go out in their order' })
  @ApiOkResponse({ type: HandlerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async resume(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerDto> {
    return this.pauses.resume(id, principal);
  }

  @Post(':id/maintenance-windows')
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Schedule a maintenance window: the handler is paused from `from` to `to` (at most 10 scheduled)' })
  @ApiBody({ type: CreateMaintenanceWindowDto, examples: WINDOW_EXAMPLES })
  @ApiCreatedResponse({ type: MaintenanceWindowDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_PAUSE_TIME, MALFORMED_JSON' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'TOO_MANY_MAINTENANCE_WINDOWS' })
  async addWindow(
    @Param('id', idParam()) id: number,
    @Body() body: CreateMaintenanceWindowDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<MaintenanceWindowDto> {
    return this.pauses.addWindow(id, body, principal);
  }

  @Delete(':id/maintenance-windows/:windowId')
  @HttpCode(204)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Delete a maintenance window (one in force ends with it)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND, MAINTENANCE_WINDOW_NOT_FOUND' })
  async removeWindow(
    @Param('id', idParam()) id: number,
    @Param('windowId', idParam('windowId')) windowId: number,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.pauses.removeWindow(id, windowId, principal);
  }

  @Get(':id/secret')
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Reveal the signing secret (admin; internal for script handlers)' })
  @ApiOkResponse({ type: HandlerSecretDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async secret(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerSecretDto> {
    const handler = await this.handlers.get(id);
    this.handlers.assertMayManage(principal, handler.type);
    return toSecretDto(await this.handlers.secrets(id));
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'New signing secret; the old one keeps signing too until SECRET_ROTATION_OVERLAP ends' })
  @ApiOkResponse({ type: HandlerSecretDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async rotate(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerSecretDto> {
    return toSecretDto(await this.handlers.rotateSecret(id, principal));
  }

  @Delete(':id')
  @HttpCode(204)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Delete a handler; its execution logs stay readable' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async remove(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.handlers.remove(id, principal);
  }
}

function toSecretDto(secrets: Pick<HandlerEntity, 'signingSecret' | 'previousSecret' | 'previousSecretExpiresAt'>): HandlerSecretDto {
  return {
    signing_secret: secrets.signingSecret ?? '',
    previous_secret: secrets.previousSecret,
    previous_secret_expires_at: secrets.previousSecretExpiresAt === null ? null : new Date(secrets.previousSecretExpiresAt).toISOString(),
  };
}
