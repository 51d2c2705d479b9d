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
import { DomainError } from '../common/errors.js';
import { AppConfig } from '../config/app-config.js';
import { isCatalogEvent } from '../events/event-catalog.js';
import { isoWithOffset } from '../events/envelope.js';
import { matchesEvent } from '../events/event-patterns.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import {
  CreatedHandlerDto,
  CreateHandlerDto,
  CreateMaintenanceWindowDto,
  MaintenanceWindowDto,
  PauseHandlerDto,
  FilterTestDto,
  FilterTestResultDto,
  HandlerDto,
  HandlerPageDto,
  HandlerSecretDto,
  ListHandlersQueryDto,
  UpdateHandlerDto,
} from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { HandlersService } from './handlers.service.js';
import { HandlerPausesService } from './handler-pauses.service.js';
import { AuditStore } from '../audit/audit-store.js';
import { keyActor } from '../audit/audit-actor.js';
import { checkFilter, invalidFilter } from './handler-filter.js';

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
  filtered: {
    summary: 'Every client event of company 3 only (a wildcard with a payload filter)',
    value: { name: 'Company 3 CRM', event: 'clients.*', type: 'http', task: '127.0.0.1:5000/company-3', filter: { 'data.companies_id': 3 } },
  },
  oauth2: {
    summary: 'An HTTPS handler that authenticates with an OAuth2 client-credentials token (the secret is never shown again)',
    value: {
      name: 'ERP: payments',
      event: 'accounting.payments.create',
      type: 'https',
      task: 'erp.example.com/webhooks/payments',
      auth: { type: 'oauth2', token_url: 'https://auth.example.com/oauth/token', client_id: 'provisioning', client_secret: 'change-me', scope: 'webhooks' },
    },
  },
};
const UPDATE_EXAMPLES = {
  rename: { summary: 'Rename and run earlier', value: { name: 'CRM: new clients (primary)', priority: 5 } },
  limits: { summary: 'At most 4 calls at once per worker and 10 calls a second in all', value: { max_concurrency: 4, rate_limit: 10, rate_period: 'second' } },
  filter: {
    summary: 'Receive only the events of companies 1 and 3, or of clients whose balance is negative',
    value: { filter: { $or: [{ 'data.companies_id': { $in: [1, 3] } }, { 'data.balance': { $lt: 0 } }] } },
  },
  unfilter: { summary: 'Remove the payload filter: every event of the handler\'s event again', value: { filter: null } },
};
const PAUSE_EXAMPLES = {
  open: { summary: 'Hold deliveries until resumed', value: { reason: 'Softswitch upgrade' } },
  until: { summary: 'Hold deliveries until a time (then they go out by themselves)', value: { until: '2099-11-22T04:00:00Z', reason: 'Softswitch upgrade' } },
};
const WINDOW_EXAMPLES = {
  night: { summary: 'A two-hour maintenance window', value: { from: '2099-11-22T02:00:00Z', to: '2099-11-22T04:00:00Z', reason: 'Monthly softswitch maintenance' } },
};
const FILTER_TEST_EXAMPLES = {
  body: {
    summary: 'Try a filter on a sample client update (matches: the balance is negative)',
    value: {
      filter: { 'event.events_id': { $in: ['clients.create', 'clients.update'] }, 'data.balance': { $lt: 0 } },
      envelope: { event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.update', object_id: 12 }, data: { id: 12, companies_id: 3, balance: -20.5 } },
    },
  },
  saved: {
    summary: "Try the handler's saved filter on a sample new client",
    value: { envelope: { event: { events_id: 'clients.create', object_id: 12 }, data: { id: 12, name: 'Example client', companies_id: 1 } } },
  },
};

const BAD_HANDLER =
  'VALIDATION_FAILED, UNKNOWN_EVENT, INVALID_FILTER, INVALID_TASK, TARGET_FORBIDDEN, SCRIPT_PATH_OUTSIDE, SCRIPT_NOT_FOUND, SCRIPT_HANDLERS_DISABLED, MALFORMED_JSON, ' +
  'INVALID_TOKEN_URL, INVALID_CLIENT_CERTIFICATE, INVALID_CLIENT_KEY, CLIENT_KEY_MISMATCH, INVALID_CA_CERTIFICATE, CLIENT_CERTIFICATE_NEEDS_HTTPS';

@ApiTags('Handlers')
@Controller('api/v1/handlers')
export class HandlersController {
  constructor(
    private readonly handlers: HandlersService,
    private readonly pauses: HandlerPausesService,
    private readonly audit: AuditStore,
    private readonly config: AppConfig,
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

  @Post(':id/filter/test')
  @HttpCode(200)
  @Auth('admin', 'read', 'internal')
  @ApiOperation({
    summary: "Try the handler's payload filter, or one given in the body, on a sample envelope; nothing is stored or sent",
  })
  @ApiBody({ type: FilterTestDto, examples: FILTER_TEST_EXAMPLES })
  @ApiOkResponse({ type: FilterTestResultDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, INVALID_FILTER, UNKNOWN_EVENT, MALFORMED_JSON' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async testFilter(@Param('id', idParam()) id: number, @Body() body: FilterTestDto): Promise<FilterTestResultDto> {
    const handler = await this.handlers.get(id);
    const { event, data } = body.envelope;
    if (!isCatalogEvent(event.events_id)) {
      throw DomainError.field('UNKNOWN_EVENT', 'envelope.event.events_id', `"${event.events_id}" is not an event ID of the catalog`);
    }
    const source = body.filter === undefined ? 'saved' : 'body';
    const filter = body.filter === undefined ? handler.filter : body.filter;
    // A saved filter is checked too: one that breaks the current limits lets nothing through (cache-manager.service.ts).
    const { problems, tester: test } = filter === null ? { problems: [], tester: null } : checkFilter(filter, this.config.filters);
    if (problems.length > 0) throw invalidFilter(problems);
    const envelope = { event: { dt: event.dt ?? isoWithOffset(Date.now()), events_id: event.events_id, object_id: event.object_id }, data };
    const matches = !test || test(envelope);
    const eventMatches = matchesEvent(handler.event, event.events_id);
    return { matches, event_matches: eventMatches, would_receive: matches && eventMatches, source, filter };
  }

  @Get(':id/secret')
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Reveal the signing secret (admin; internal for script handlers)' })
  @ApiOkResponse({ type: HandlerSecretDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async secret(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerSecretDto> {
    const handler = await this.handlers.get(id);
    this.handlers.assertMayManage(principal, handler.type);
    const secrets = await this.handlers.secrets(id);
    // Recorded before the answer: a secret is shown only once its reveal is on record.
    await this.audit.record({ actor: keyActor(principal), action: 'handler.secret_reveal', targetId: id });
    return toSecretDto(secrets);
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
