import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import { IngestThrottlerGuard } from '../common/ingest-throttler.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { Auth } from '../api-keys/auth.decorators.js';
import { AppConfig } from '../config/app-config.js';
import { validateEvent } from '../events/event-validation.js';
import { EVENT_EXAMPLE } from '../events/events.controller.js';
import { PostEventDto } from '../events/dto/event.dto.js';
import { DecisionService } from './decision.service.js';
import { DecisionDto } from './dto/decision.dto.js';

const DECIDE_EXAMPLES = { update: { summary: 'May this client be renamed?', value: EVENT_EXAMPLE } };

/** `before` decisions: the same event body as an ingest, answered at once and stored nowhere but the execution logs. */
@ApiTags('Events')
@Controller('api/v1/events')
export class DecisionsController {
  constructor(
    private readonly decisions: DecisionService,
    private readonly config: AppConfig,
  ) {}

  @Post('decide')
  @HttpCode(200)
  @Auth('events', 'admin')
  @UseGuards(IngestThrottlerGuard)
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'RATE_LIMITED (INGEST_RATE_LIMIT per API key), with Retry-After' })
  @ApiOperation({
    // The id it had when the events controller served it: clients generated from the document keep their method name.
    operationId: 'EventsController_decide',
    summary: 'Ask before acting: run the before handlers of the event now, in priority order; answers allowed or not and the final data',
  })
  @ApiBody({ type: PostEventDto, examples: DECIDE_EXAMPLES })
  @ApiOkResponse({ type: DecisionDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED, UNKNOWN_EVENT, DATA_INVALID, MALFORMED_JSON' })
  async decide(@Body() body: Record<string, unknown>): Promise<DecisionDto> {
    return this.decisions.decide(validateEvent(body, undefined, Date.now(), this.config.ingest.maxDataBytes));
  }
}
