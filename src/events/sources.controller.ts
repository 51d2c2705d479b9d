import { UseGuards, Body, Controller, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiBody, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IngestThrottlerGuard } from '../common/ingest-throttler.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import { SOURCE_ENTITIES } from './adapters/registry.js';
import { SourceChangeDto, SourceChangeResultDto } from './dto/source-change.dto.js';
import { SourceChangesService } from './source-changes.service.js';

// Request examples for Swagger UI "Try it out": each one is accepted as it is (test/e2e/openapi-examples.e2e.test.ts).
const CHANGE_EXAMPLES = {
  rename: {
    summary: 'entity client: a client was renamed (derives clients.update)',
    description: 'No idempotency key: every send stores new events.',
    value: { op: 'update', before: { id: 12, name: 'Old name' }, after: { id: 12, name: 'New name' } },
  },
};

@ApiTags('Events')
@Controller('api/v1/sources')
export class SourcesController {
  constructor(private readonly changes: SourceChangesService) {}

  @Post(':entity/changes')
  @Auth('events', 'admin')
  @UseGuards(IngestThrottlerGuard)
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'RATE_LIMITED (INGEST_RATE_LIMIT per API key), with Retry-After' })
  @ApiOperation({
    summary: 'Post what changed, in CoreAPI shape; the entity\'s adapter derives the provisioning events and they are accepted atomically',
  })
  @ApiParam({ name: 'entity', schema: { type: 'string', enum: [...SOURCE_ENTITIES], example: 'client' } })
  @ApiBody({ type: SourceChangeDto, examples: CHANGE_EXAMPLES })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiAcceptedResponse({ type: SourceChangeResultDto, description: 'One or more events derived and accepted' })
  @ApiOkResponse({ type: SourceChangeResultDto, description: 'The change means nothing (no field differs): no event' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'INVALID_OPERATION, VALIDATION_FAILED, DATA_INVALID, IDEMPOTENCY_KEY_INVALID, MALFORMED_JSON' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'UNKNOWN_ENTITY' })
  async post(
    @Param('entity') entity: string,
    @Body() body: Record<string, unknown>,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<SourceChangeResultDto> {
    const result = await this.changes.accept(entity, body, idempotencyKey, principal.keyId);
    void reply.status(result.events.length > 0 ? 202 : 200);
    return result;
  }
}
