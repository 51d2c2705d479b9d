import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { DomainError } from '../common/errors.js';
import { idParam } from '../common/validation.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import { findEvent } from '../events/event-catalog.js';
import { expandEventPattern, matchesEvent } from '../events/event-patterns.js';
import { HandlersService } from '../handlers/handlers.service.js';
import { ExecutionLogDetailDto } from '../execution-logs/dto/execution-log.dto.js';
import { DeliveriesService } from './deliveries.service.js';
import { DeliveryRunner } from './delivery-runner.js';
import { RetryRangeDto, RetryResultDto, TestHandlerDto } from './dto/delivery.dto.js';

@ApiTags('Deliveries')
@Controller('api/v1')
export class DeliveriesController {
  constructor(
    private readonly deliveries: DeliveriesService,
    private readonly handlers: HandlersService,
    private readonly runner: DeliveryRunner,
  ) {}

  @Post('deliveries/:id/retry')
  @HttpCode(200)
  @Auth('admin')
  @ApiOperation({ summary: 'Queue one failed or skipped delivery again (one attempt, trigger manual)' })
  @ApiOkResponse({ type: RetryResultDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'DELIVERY_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'DELIVERY_NOT_RETRYABLE, HANDLER_NOT_ENABLED' })
  async retry(@Param('id', idParam()) id: number, @CurrentPrincipal() principal: Principal): Promise<RetryResultDto> {
    await this.deliveries.retry(id, principal);
    return { queued: 1 };
  }

  @Post('handlers/:id/deliveries/retry')
  @HttpCode(200)
  @Auth('admin')
  @ApiOperation({ summary: "Queue again every failed delivery of a handler created in a time range" })
  @ApiBody({
    type: RetryRangeDto,
    examples: { november: { summary: 'Failed deliveries created in November 2026', value: { from: '2026-11-01T00:00:00Z', to: '2026-11-30T23:59:59Z' } } },
  })
  @ApiOkResponse({ type: RetryResultDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_ENABLED' })
  async retryRange(@Param('id', idParam()) id: number, @Body() body: RetryRangeDto, @CurrentPrincipal() principal: Principal): Promise<RetryResultDto> {
    const queued = await this.deliveries.retryRange(id, Date.parse(body.from), Date.parse(body.to), principal);
    return { queued };
  }

  @Post('handlers/:id/test')
  @HttpCode(200)
  @Auth('admin', 'internal')
  @ApiOperation({ summary: "Send the sample payload of the handler's event now; answers the execution log row" })
  @ApiBody({
    type: TestHandlerDto,
    required: false,
    examples: { default: { summary: "The sample of the handler's own event", value: {} } },
  })
  @ApiOkResponse({ type: ExecutionLogDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'HANDLER_NOT_FOUND' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'UNKNOWN_EVENT' })
  async test(
    @Param('id', idParam()) id: number,
    @Body() body: TestHandlerDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ExecutionLogDetailDto> {
    const handler = await this.handlers.get(id);
    this.handlers.assertMayManage(principal, handler.type);
    const eventId = body?.event ?? expandEventPattern(handler.event)[0]!;
    const event = findEvent(eventId);
    if (!event || !matchesEvent(handler.event, event.id)) {
      throw DomainError.field('UNKNOWN_EVENT', 'event', `"${eventId}" is not a catalog event this handler serves`);
    }
    return ExecutionLogDetailDto.detail(await this.runner.test(handler, event));
  }
}
