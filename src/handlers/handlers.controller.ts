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
  HandlerDto,
  HandlerPageDto,
  HandlerSecretDto,
  ListHandlersQueryDto,
  UpdateHandlerDto,
} from './dto/handler.dto.js';
import { HandlerEntity } from './handler.entity.js';
import { HandlersService } from './handlers.service.js';
import { toHandlerDto } from './handler-view.js';

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
};

const BAD_HANDLER =
  'VALIDATION_FAILED, UNKNOWN_EVENT, INVALID_TASK, TARGET_FORBIDDEN, SCRIPT_PATH_OUTSIDE, SCRIPT_NOT_FOUND, SCRIPT_HANDLERS_DISABLED, MALFORMED_JSON, ' +
  'INVALID_TOKEN_URL, INVALID_CLIENT_CERTIFICATE, INVALID_CLIENT_KEY, CLIENT_KEY_MISMATCH, INVALID_CA_CERTIFICATE, CLIENT_CERTIFICATE_NEEDS_HTTPS';

@ApiTags('Handlers')
@Controller('api/v1/handlers')
export class HandlersController {
  constructor(private readonly handlers: HandlersService) {}

  @Post()
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Create a handler (script handlers: internal scope only)' })
  @ApiBody({ type: CreateHandlerDto, examples: CREATE_EXAMPLES })
  @ApiCreatedResponse({ type: CreatedHandlerDto, description: 'The handler, with its signing secret shown this once' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: BAD_HANDLER })
  async create(@Body() body: CreateHandlerDto, @CurrentPrincipal() principal: Principal): Promise<CreatedHandlerDto> {
    const handler = await this.handlers.create(body, principal);
    return { ...toHandlerDto(handler), signing_secret: handler.signingSecret! };
  }

  @Get()
  @Auth('admin', 'read', 'internal')
  @ApiOperation({ summary: 'List handlers by priority then id; blank status shows enabled and disabled, not archived' })
  @ApiOkResponse({ type: HandlerPageDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  async list(@Query() query: ListHandlersQueryDto): Promise<HandlerPageDto> {
    const page = await this.handlers.list(query);
    return { ...page, items: page.items.map(toHandlerDto) };
  }

  @Get(':id')
  @Auth('admin', 'read', 'internal')
  @ApiOperation({ summary: 'One handler' })
  @ApiOkResponse({ type: HandlerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  async get(@Param('id', idParam()) id: number): Promise<HandlerDto> {
    return toHandlerDto(await this.handlers.get(id));
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
    return toHandlerDto(await this.handlers.update(id, body, principal));
  }

  @Post(':id/toggle')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: 'Quick toggle enabled ↔ disabled (refused for archived handlers)' })
  @ApiOkResponse({ type: HandlerDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'HANDLER_ARCHIVED' })
  async toggle(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<HandlerDto> {
    return toHandlerDto(await this.handlers.toggle(id, principal));
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
