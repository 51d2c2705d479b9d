import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Length, ValidateNested } from 'class-validator';
import { PageQueryDto } from '../../common/pagination.dto.js';
import { BodyRequired, IsIntegerInRange, Omittable } from '../../common/validation.js';
import {
  AUTH_TYPES,
  AuthType,
  HANDLER_STAGES,
  HANDLER_STATUSES,
  HANDLER_TYPES,
  HandlerStage,
  HandlerStatus,
  HandlerType,
  ON_FAILURE_CHOICES,
  OnFailure,
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
});

/**
 * Bounds of target credentials. Every one fits MySQL's TEXT (65,535 bytes) with room for the
 * secrets to be stored encrypted (base64 and a header: about 4/3 of the value plus 60 bytes).
 */
export const CREDENTIAL_LIMITS = Object.freeze({
  username: 200,
  secret: 8000,
  clientId: 1000,
  scope: 1000,
  audience: 2048,
  tokenUrl: 2048,
  certPem: 16_384,
  keyPem: 16_384,
  caPem: 32_768,
});

const KEEP_STORED = 'Leave it out on an edit to keep the stored one (same type).';

/**
 * How the handler authenticates to its target: one kind, with the fields of that kind only.
 * Secrets are write-only: answers show the kind and the public settings, never the secret.
 */
export class TargetAuthDto {
  @ApiProperty({ enum: AUTH_TYPES, example: 'bearer', description: '`basic` (username, password), `bearer` (token) or `oauth2` (client credentials: token_url, client_id, client_secret, scope, audience)' })
  @IsIn(AUTH_TYPES)
  type: AuthType;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.username, description: 'basic: the user name (no colon)' })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.username)
  username?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.secret, writeOnly: true, description: `basic: the password. Never shown. ${KEEP_STORED}` })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  password?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.secret, writeOnly: true, description: `bearer: the token sent as \`Authorization: Bearer <token>\`. Never shown. ${KEEP_STORED}` })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  token?: string;

  @ApiPropertyOptional({
    minLength: 1,
    maxLength: CREDENTIAL_LIMITS.tokenUrl,
    example: 'https://auth.example.com/oauth/token',
    description: 'oauth2: the token endpoint, a full http:// or https:// URL, checked against the outbound policy like a target',
  })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.tokenUrl)
  token_url?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.clientId, description: 'oauth2: the client id' })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.clientId)
  client_id?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.secret, writeOnly: true, description: `oauth2: the client secret. Never shown. ${KEEP_STORED}` })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  client_secret?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.scope, description: 'oauth2: the scope asked for (space-separated)' })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.scope)
  scope?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.audience, description: 'oauth2: the audience asked for (the `audience` form field some providers need)' })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.audience)
  audience?: string;
}

/** An mTLS client certificate for an https handler. The key is write-only. */
export class ClientCertificateDto {
  @ApiProperty({ minLength: 1, maxLength: CREDENTIAL_LIMITS.certPem, description: 'The client certificate, PEM (optionally followed by its intermediate certificates)' })
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.certPem)
  cert: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.keyPem, writeOnly: true, description: `The certificate's private key, PEM, unencrypted. Never shown. Leave it out on an edit to keep the stored one.` })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.keyPem)
  key?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: CREDENTIAL_LIMITS.caPem, description: 'CA certificates (PEM) to trust for the target instead of the system ones' })
  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.caPem)
  ca?: string;
}

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
    type: TargetAuthDto,
    nullable: true,
    description:
      'http/https: how the handler authenticates to its target. Replaces the stored one as a whole; null removes it. Its secret is write-only: leave it out on an edit to keep the stored one.',
  })
  @IsOptional() // null removes it
  @IsObject()
  @ValidateNested()
  @Type(() => TargetAuthDto)
  auth?: TargetAuthDto | null;

  @ApiPropertyOptional({
    type: ClientCertificateDto,
    nullable: true,
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

/** A handler's target authentication as answers show it: the kind and its public settings, never the secret. */
export class TargetAuthViewDto {
  @ApiProperty({ enum: AUTH_TYPES }) type: AuthType;
  @ApiPropertyOptional({ description: 'basic' }) username?: string;
  @ApiPropertyOptional({ description: 'oauth2' }) token_url?: string;
  @ApiPropertyOptional({ description: 'oauth2' }) client_id?: string;
  @ApiPropertyOptional({ description: 'oauth2' }) scope?: string;
  @ApiPropertyOptional({ description: 'oauth2' }) audience?: string;
  @ApiProperty({ description: 'A secret (password, token or client secret) is stored; it is never shown' }) has_secret: boolean;
}

/** A handler's client certificate as answers show it: what it is, never the key. */
export class ClientCertificateViewDto {
  @ApiProperty({ nullable: true, type: String, example: 'CN=provisioning, O=Example' }) subject: string | null;
  @ApiProperty({ nullable: true, type: String }) issuer: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) valid_from: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) valid_to: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'SHA-256 fingerprint of the certificate' }) fingerprint256: string | null;
  @ApiProperty({ description: 'The private key is stored; it is never shown' }) has_key: boolean;
  @ApiProperty({ description: 'CA certificates to trust for the target are stored' }) has_ca: boolean;
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
  @ApiProperty({ nullable: true, type: String, description: 'Why the handler was disabled automatically' })
  disabled_reason: string | null;
  @ApiProperty({ type: TargetAuthViewDto, nullable: true, description: 'How the handler authenticates to its target; null: no authentication' })
  auth: TargetAuthViewDto | null;
  @ApiProperty({ type: ClientCertificateViewDto, nullable: true, description: 'The mTLS client certificate; null: none' })
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
