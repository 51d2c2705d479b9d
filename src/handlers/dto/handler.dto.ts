import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Length, ValidateBy, ValidateNested, ValidationArguments } from 'class-validator';
import { isCalendarDateTimeWithOffset } from '../../common/dates.js';
import { PageQueryDto } from '../../common/pagination.dto.js';
import { BodyRequired, IsIntegerInRange, MAX_ID, Omittable } from '../../common/validation.js';
import { FILTER_OPERATORS, HandlerFilter } from '../handler-filter.js';
import {
  AUTH_INPUT_SCHEMA,
  AUTH_VIEW_SCHEMA,
  CERTIFICATE_INPUT_SCHEMA,
  CERTIFICATE_VIEW_SCHEMA,
  ClientCertificateDto,
  ClientCertificateViewDto,
  TargetAuthDto,
  TargetAuthViewDto,
} from './handler-credentials.dto.js';
import {
  HANDLER_STAGES,
  HANDLER_STATUSES,
  HANDLER_TYPES,
  HandlerStage,
  HandlerStatus,
  HandlerType,
  ON_FAILURE_CHOICES,
  OnFailure,
  CIRCUIT_STATES,
  CircuitState,
  RATE_PERIODS,
  RatePeriod,
} from '../handler.entity.js';

export const HANDLER_LIMITS = Object.freeze({
  priorityMin: 1,
  priorityMax: 1_000_000,
  timeoutMsMin: 100,
  timeoutMsMax: 300_000,
  timeoutMsDefault: 15_000,
  retryLimitMax: 30,
  retryLimitDefault: 7,
  priorityDefault: 10,
  headersMax: 20,
  maxConcurrencyMax: 512,
  rateLimitMax: 100_000,
  pauseReasonMax: 500,
  maintenanceWindowsMax: 10,
});

/** An instant: an ISO 8601 date-time with its offset (`Z` or `±hh:mm`), every field existing in the calendar. */
function IsInstant(): PropertyDecorator {
  return ValidateBy({
    name: 'isInstant',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isCalendarDateTimeWithOffset(value),
      defaultMessage: (args?: ValidationArguments) => `${args?.property} must be a date-time with an offset, e.g. 2026-11-22T02:00:00Z`,
    },
  });
}

const FILTER_DESCRIPTION =
  'Payload filter: the handler receives an event only when this MongoDB-style query matches the envelope it would be sent ' +
  '(`{"event": {"dt", "events_id", "object_id"}, "data": {…}}`); paths start with `data.` or `event.`. ' +
  `Operators: ${FILTER_OPERATORS.join(', ')}. At most FILTER_MAX_BYTES bytes and FILTER_MAX_DEPTH levels; ` +
  'null or left out: every event of the handler\'s `event`. A bad filter is refused with INVALID_FILTER and its position.';

export class CreateHandlerDto {
  @ApiProperty({ example: 'CRM: new clients', minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({
    example: 'clients.create',
    minLength: 1,
    maxLength: 100,
    description: 'A catalog event ID, a group wildcard such as `clients.*` (any depth), or `*` for every event',
  })
  @IsString()
  @Length(1, 100)
  event: string;

  @ApiProperty({
    enum: HANDLER_TYPES,
    example: 'http',
    description: '`script` is internal only: it needs SCRIPT_HANDLERS_ENABLED and a key with the internal scope',
  })
  @IsIn(HANDLER_TYPES)
  type: HandlerType;

  @ApiProperty({
    example: '127.0.0.1:5000/api',
    minLength: 1,
    maxLength: 2048,
    description: 'http/https: `host[:port]/path` or a full URL of that scheme. script: a path inside the scripts folder',
  })
  @IsString()
  @Length(1, 2048)
  task: string;

  @ApiPropertyOptional({ enum: HANDLER_STATUSES, default: 'enabled' })
  @Omittable()
  @IsIn(HANDLER_STATUSES)
  status?: HandlerStatus;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: HANDLER_LIMITS.priorityMin,
    maximum: HANDLER_LIMITS.priorityMax,
    default: HANDLER_LIMITS.priorityDefault,
    description: 'Lower runs first; 1 precedes all others. Ties run by id.',
  })
  @Omittable()
  @IsIntegerInRange(HANDLER_LIMITS.priorityMin, HANDLER_LIMITS.priorityMax)
  priority?: number;

  @ApiPropertyOptional({ enum: HANDLER_STAGES, default: 'after' })
  @Omittable()
  @IsIn(HANDLER_STAGES)
  stage?: HandlerStage;

  @ApiPropertyOptional({ type: 'integer', minimum: HANDLER_LIMITS.timeoutMsMin, maximum: HANDLER_LIMITS.timeoutMsMax, default: HANDLER_LIMITS.timeoutMsDefault })
  @Omittable()
  @IsIntegerInRange(HANDLER_LIMITS.timeoutMsMin, HANDLER_LIMITS.timeoutMsMax)
  timeout_ms?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: HANDLER_LIMITS.retryLimitMax,
    default: HANDLER_LIMITS.retryLimitDefault,
    description: 'Retries after the first attempt before a delivery is marked failed',
  })
  @Omittable()
  @IsIntegerInRange(0, HANDLER_LIMITS.retryLimitMax)
  retry_limit?: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { 'X-Tenant': 'north' },
    description: 'Custom request headers (at most 20). Values of sensitive names are masked in answers.',
  })
  @Omittable()
  @IsObject()
  headers?: Record<string, string>;

  @ApiPropertyOptional({
    // OpenAPI 3.0: `nullable` does not add null to an enum; the enum must list it.
    enum: [...ON_FAILURE_CHOICES, null],
    type: String,
    nullable: true,
    description: 'before stage only: what a failure or timeout of this handler means (default forbid). Leave out or null for after handlers.',
  })
  @IsOptional() // null is documented: "none" for after handlers
  @IsIn(ON_FAILURE_CHOICES)
  on_failure?: OnFailure | null;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: HANDLER_LIMITS.maxConcurrencyMax,
    description: 'Deliveries of this handler one worker holds at once, waiting or in flight; null: HANDLER_MAX_CONCURRENCY (half of DISPATCH_CONCURRENCY by default)',
  })
  @IsOptional() // null: the configured default
  @IsIntegerInRange(1, HANDLER_LIMITS.maxConcurrencyMax)
  max_concurrency?: number | null;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    maximum: HANDLER_LIMITS.rateLimitMax,
    description: 'Calls per rate_period across every worker; null: no limit',
  })
  @IsOptional() // null: no limit
  @IsIntegerInRange(1, HANDLER_LIMITS.rateLimitMax)
  rate_limit?: number | null;

  @ApiPropertyOptional({ enum: RATE_PERIODS, default: 'second', description: 'The period of rate_limit' })
  @Omittable()
  @IsIn(RATE_PERIODS)
  rate_period?: RatePeriod;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    example: { 'data.companies_id': { $in: [1, 3] } },
    description: `${FILTER_DESCRIPTION} In an edit, null removes the filter.`,
  })
  @IsOptional() // null is documented: no filter (and, in an edit, removes it)
  @IsObject()
  filter?: HandlerFilter | null;
  @ApiProperty({
    ...AUTH_INPUT_SCHEMA,
    description:
      'http/https: how the handler authenticates to its target. Replaces the stored one as a whole; null removes it. Its secret is write-only: leave it out on an edit to keep the stored one.',
  })
  @IsOptional() // null removes it
  @IsObject()
  @ValidateNested()
  @Type(() => TargetAuthDto)
  auth?: TargetAuthDto | null;

  @ApiProperty({
    ...CERTIFICATE_INPUT_SCHEMA,
    description: 'https: an mTLS client certificate, alone or with `auth`. Replaces the stored one as a whole; null removes it.',
  })
  @IsOptional() // null removes it
  @IsObject()
  @ValidateNested()
  @Type(() => ClientCertificateDto)
  client_certificate?: ClientCertificateDto | null;
}

/** Every field may be left out, none may be null (but on_failure); the body itself is required. */
@BodyRequired()
export class UpdateHandlerDto extends PartialType(CreateHandlerDto, { skipNullProperties: false }) {}

export class ListHandlersQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Exact value of the handler\'s event field (catalog ID or wildcard)' })
  @IsOptional()
  @IsString()
  event?: string;

  @ApiPropertyOptional({ enum: HANDLER_TYPES })
  @IsOptional()
  @IsIn(HANDLER_TYPES)
  type?: HandlerType;

  @ApiPropertyOptional({ enum: [...HANDLER_STATUSES, ''], description: 'Blank or absent: enabled and disabled, not archived' })
  @IsOptional()
  // class-validator would list the blank choice as a trailing ", ".
  @IsIn([...HANDLER_STATUSES, ''], { message: `status must be one of ${HANDLER_STATUSES.join(', ')}, or blank for enabled and disabled` })
  status?: HandlerStatus | '';
}

export class PauseHandlerDto {
  @ApiPropertyOptional({ format: 'date-time', example: '2026-11-22T04:00:00Z', description: 'Resume by itself at this time; left out: paused until resumed' })
  @Omittable()
  @IsInstant()
  until?: string;

  @ApiPropertyOptional({ example: 'Softswitch upgrade', maxLength: HANDLER_LIMITS.pauseReasonMax })
  @Omittable()
  @IsString()
  @Length(0, HANDLER_LIMITS.pauseReasonMax)
  reason?: string;
}

export class CreateMaintenanceWindowDto {
  @ApiProperty({ format: 'date-time', example: '2026-11-22T02:00:00Z', description: 'When the handler\'s deliveries start to be held' })
  @IsInstant()
  from: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-22T04:00:00Z', description: 'When they go out again, in their order; after `from` and in the future' })
  @IsInstant()
  to: string;

  @ApiPropertyOptional({ example: 'Softswitch upgrade', maxLength: HANDLER_LIMITS.pauseReasonMax })
  @Omittable()
  @IsString()
  @Length(0, HANDLER_LIMITS.pauseReasonMax)
  reason?: string;
}

export class MaintenanceWindowDto {
  @ApiProperty({ example: 1 }) id: number;
  @ApiProperty({ format: 'date-time' }) from: string;
  @ApiProperty({ format: 'date-time' }) to: string;
  @ApiProperty({ nullable: true, type: String }) reason: string | null;
}

/** `paused` of a handler; inline in HandlerDto (in OpenAPI 3.0 `nullable` next to a $ref does not admit null). */
export interface HandlerPausedDto {
  since: string;
  until: string | null;
  reason: string | null;
  kind: 'manual' | 'window';
}

export class HandlerCircuitDto {
  @ApiProperty({ enum: CIRCUIT_STATES, description: 'closed: calls go out; open: deliveries wait for the cool-down (no attempt counted); half_open: one probe call is out' })
  state: CircuitState;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When it last changed state; null if it never opened' })
  since: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Why it opened (or how it closed)' }) reason: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'Open: when the cool-down ends and the probe may go' })
  retry_at: string | null;
}

export class HandlerDto {
  @ApiProperty({ example: 1 }) id: number;
  @ApiProperty() name: string;
  @ApiProperty({ example: 'clients.create' }) event: string;
  @ApiProperty({ enum: HANDLER_TYPES }) type: HandlerType;
  @ApiProperty({ example: '127.0.0.1:5000/api' }) task: string;
  @ApiProperty({ nullable: true, type: String, example: 'http://127.0.0.1:5000/api', description: 'The URL called (http/https); null for script handlers' })
  target_url: string | null;
  @ApiProperty({ enum: HANDLER_STATUSES }) status: HandlerStatus;
  @ApiProperty() priority: number;
  @ApiProperty({ enum: HANDLER_STAGES }) stage: HandlerStage;
  @ApiProperty() timeout_ms: number;
  @ApiProperty() retry_limit: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) headers: Record<string, string>;
  @ApiProperty({ enum: [...ON_FAILURE_CHOICES, null], type: String, nullable: true, description: 'before handlers: allow or forbid; null for after handlers' })
  on_failure: OnFailure | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'The payload filter; null: every event of `event`' })
  filter: HandlerFilter | null;
  @ApiProperty({ nullable: true, type: String, description: 'Why the handler was disabled automatically' })
  disabled_reason: string | null;
  @ApiProperty({ nullable: true, type: 'integer', description: 'Deliveries one worker holds at once; null: HANDLER_MAX_CONCURRENCY' })
  max_concurrency: number | null;
  @ApiProperty({ nullable: true, type: 'integer', description: 'Calls per rate_period across every worker; null: no limit' })
  rate_limit: number | null;
  @ApiProperty({ enum: RATE_PERIODS }) rate_period: RatePeriod;
  @ApiProperty({
    type: 'object',
    nullable: true,
    properties: {
      since: { type: 'string', format: 'date-time', description: 'When the pause (or the window in force) began' },
      until: { type: 'string', format: 'date-time', nullable: true, description: 'When it ends by itself; null: until resumed' },
      reason: { type: 'string', nullable: true },
      kind: { type: 'string', enum: ['manual', 'window'], description: 'A manual pause or a scheduled maintenance window' },
    },
    required: ['since', 'until', 'reason', 'kind'],
    description: 'Paused now (manually or by a maintenance window): deliveries are held, none skipped, and go out in their order when it ends. Unlike status `disabled`, which skips them.',
  })
  paused: HandlerPausedDto | null;
  @ApiProperty({ type: [MaintenanceWindowDto], description: 'Scheduled maintenance windows not over yet, earliest first' })
  maintenance_windows: MaintenanceWindowDto[];
  @ApiProperty({ type: HandlerCircuitDto }) circuit: HandlerCircuitDto;
  @ApiProperty({ ...AUTH_VIEW_SCHEMA, description: 'How the handler authenticates to its target; null: no authentication. Its secret is never shown.' })
  auth: TargetAuthViewDto | null;
  @ApiProperty({ ...CERTIFICATE_VIEW_SCHEMA, description: 'The mTLS client certificate; null: none. Its key is never shown.' })
  client_certificate: ClientCertificateViewDto | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}

export class HandlerPageDto {
  @ApiProperty({ type: [HandlerDto] }) items: HandlerDto[];
  @ApiProperty() total: number;
  @ApiProperty() page: number;
  @ApiProperty() per_page: number;
}

export class CreatedHandlerDto extends HandlerDto {
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', description: 'Signing secret, shown only here and through the admin reveal endpoint' })
  signing_secret: string;
}

export class HandlerSecretDto {
  @ApiProperty({ description: 'Current Standard Webhooks secret (whsec_…)' }) signing_secret: string;
  @ApiProperty({ nullable: true, type: String, description: 'The previous secret while its overlap lasts: calls carry a signature for each' })
  previous_secret: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) previous_secret_expires_at: string | null;
}

/** The `event` part of an envelope, as the handler would receive it. */
export class EnvelopeEventDto {
  @ApiPropertyOptional({ example: '2026-11-22T10:15:30+00:00', description: 'Left out: now' })
  @Omittable()
  @IsString()
  @Length(1, 64)
  dt?: string;

  @ApiProperty({ example: 'clients.update', description: 'A catalog event ID' })
  @IsString()
  @Length(1, 100)
  events_id: string;

  @ApiProperty({ type: 'integer', example: 12, minimum: 1, maximum: MAX_ID })
  @IsIntegerInRange(1, MAX_ID)
  object_id: number;
}

/** A sample of the envelope a handler is sent (see GET /api/v1/event-types/{id} for one per event). */
export class SampleEnvelopeDto {
  @ApiProperty({ type: EnvelopeEventDto })
  @IsObject()
  @ValidateNested()
  @Type(() => EnvelopeEventDto)
  event: EnvelopeEventDto;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { id: 12, companies_id: 3, balance: -20.5 } })
  @IsObject()
  data: Record<string, unknown>;
}

export class FilterTestDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    example: { 'data.balance': { $lt: 0 } },
    description: 'A filter to try instead of the saved one (checked like one being saved); null tries no filter. Left out: the handler\'s saved filter.',
  })
  @IsOptional() // null is documented: "no filter"
  @IsObject()
  filter?: HandlerFilter | null;

  @ApiProperty({ type: SampleEnvelopeDto })
  @IsObject()
  @ValidateNested()
  @Type(() => SampleEnvelopeDto)
  envelope: SampleEnvelopeDto;
}

export class FilterTestResultDto {
  @ApiProperty({ description: 'Whether the filter matches the envelope (true when there is no filter)' })
  matches: boolean;
  @ApiProperty({ description: "Whether the handler's `event` (a catalog ID or a wildcard) covers envelope.event.events_id" })
  event_matches: boolean;
  @ApiProperty({ description: 'event_matches and matches: whether the handler, while enabled, is sent this event' })
  would_receive: boolean;
  @ApiProperty({ enum: ['saved', 'body'], description: "Whose filter was tried: the handler's saved one or the one in the body" })
  source: 'saved' | 'body';
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'The filter tried; null: none' })
  filter: HandlerFilter | null;
}
