import { idParam } from '../common/validation.js';
import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { ApiKeysService } from './api-keys.service.js';
import { Auth, CurrentPrincipal, Principal } from './auth.decorators.js';
import { ApiKeyDto, CreateApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto.js';

@ApiTags('API keys')
@Controller('api/v1/api-keys')
@Auth('admin')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create a key; the key is shown only in this answer' })
  @ApiBody({ type: CreateApiKeyDto, examples: { events: { summary: 'A key for the billing platform to post events', value: { name: 'billing-core events', scopes: ['events'] } } } })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  async create(@Body() body: CreateApiKeyDto, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKeyDto> {
    const { key, record } = await this.apiKeys.create(body.name, body.scopes, principal);
    return { ...ApiKeyDto.from(record), key };
  }

  @Get()
  @ApiOperation({ summary: 'List keys (without the keys themselves)' })
  @ApiOkResponse({ type: [ApiKeyDto] })
  async list(): Promise<ApiKeyDto[]> {
    return (await this.apiKeys.list()).map((record) => ApiKeyDto.from(record));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a key; it stops working at once' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'API_KEY_NOT_FOUND' })
  async revoke(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.apiKeys.revoke(id, principal);
  }
}
