import { UseGuards, Body, Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IngestThrottlerGuard } from '../common/ingest-throttler.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { idParam } from '../common/validation.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import { IngestService } from './ingest.service.js';
import { batchEvents } from './event-validation.js';
import { AcceptedEventDto, BatchResultDto, EventDetailDto, PostEventBatchDto, PostEventDto } from './dto/event.dto.js';

// Request examples for Swagger UI "Try it out": each one is accepted as it is (test/e2e/openapi-examples.e2e.test.ts).
// The event example carries no idempotency key on purpose: sent twice it stores two events. With
// a fixed key the second try would silently answer the first event again. The decide route
// (src/decisions/decisions.controller.ts) asks about the same event.
export const EVENT_EXAMPLE = { event: 'clients.update', object_id: 12, data: { id: 12, name: 'My changed name' }, dt: '2026-11-22T10:15:30+00:00' };
const EVENT_EXAMPLES = {
  update: { summary: 'A client was renamed', description: 'No idempotency key: every send stores a new event. Add `idempotency_key` (or the Idempotency-Key header) to make a repeat answer the first event instead.', value: EVENT_EXAMPLE },
};
const BATCH_EXAMPLES = {
  two: {
    summary: 'Two events in one request (no idempotency keys: every send stores them again)',
    value: { events: [EVENT_EXAMPLE, { event: 'clients.create', object_id: 13, data: { id: 13, name: 'New client' } }] },
  },
};

const BAD_EVENT = 'VALIDATION_FAILED, UNKNOWN_EVENT, DATA_INVALID, IDEMPOTENCY_KEY_INVALID, MALFORMED_JSON';
const TOO_LARGE = 'PAYLOAD_TOO_LARGE (body over BODY_LIMIT_BYTES), DATA_TOO_LARGE (data over MAX_DATA_BYTES)';

@ApiTags('Events')
@Controller('api/v1/events')
export class EventsController {
  constructor(private readonly ingest: IngestService) {}

  @Post()
  @HttpCode(202)
  @Auth('events', 'admin')
  // Added to the 403 of @Auth (SCOPE_FORBIDDEN).
  @ApiForbiddenResponse({ type: ErrorResponseDto, description: 'EVENT_RESERVED: the event is an operational event (provisioning.*), which only the service emits' })
  @UseGuards(IngestThrottlerGuard)
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'RATE_LIMITED (INGEST_RATE_LIMIT per API key), with Retry-After' })
  @ApiOperation({ summary: 'Accept one event: stored durably before the answer, then delivered to every enabled handler in order' })
  @ApiBody({ type: PostEventDto, examples: EVENT_EXAMPLES })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A repeat with the same key answers the first event (and creates nothing)' })
  @ApiAcceptedResponse({ type: AcceptedEventDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: BAD_EVENT })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto, description: TOO_LARGE })
  async post(
    @Body() body: Record<string, unknown>,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AcceptedEventDto> {
    const result = await this.ingest.accept(body, idempotencyKey, principal.keyId);
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    return result;
  }

  @Post('batch')
  @HttpCode(200)
  @Auth('events', 'admin')
  @UseGuards(IngestThrottlerGuard)
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'RATE_LIMITED (INGEST_RATE_LIMIT per API key), with Retry-After' })
  @ApiOperation({ summary: 'Accept up to MAX_BATCH_EVENTS (default 500) events; each item is validated and answered on its own' })
  @ApiBody({ type: PostEventBatchDto, examples: BATCH_EXAMPLES })
  @ApiOkResponse({ type: BatchResultDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED (the batch itself), MALFORMED_JSON' })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto, description: 'PAYLOAD_TOO_LARGE (body), BATCH_TOO_LARGE (more than MAX_BATCH_EVENTS)' })
  async batch(@Body() body: unknown, @CurrentPrincipal() principal: Principal): Promise<BatchResultDto> {
    return this.ingest.acceptBatch(batchEvents(body), principal.keyId);
  }

  @Get(':id')
  @Auth('admin', 'read', 'events')
  @ApiOperation({ summary: 'One event and the state of each of its deliveries' })
  @ApiOkResponse({ type: EventDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EVENT_NOT_FOUND' })
  async get(@Param('id', idParam()) id: number): Promise<EventDetailDto> {
    return this.ingest.get(id);
  }
}
