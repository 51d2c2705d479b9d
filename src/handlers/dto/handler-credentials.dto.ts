import { ApiPropertyOptions } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';
import { Omittable } from '../../common/validation.js';
import { AUTH_TYPES, AuthType, TargetAuthSettings } from '../handler.entity.js';

// Target credentials as the API takes and shows them: a handler's `auth` and
// `client_certificate` (src/handlers/handler-credentials.ts holds their rules and views).

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
const text = (maxLength: number, description: string, more: Record<string, unknown> = {}) => ({ type: 'string' as const, minLength: 1, maxLength, description, ...more });

/**
 * The OpenAPI schemas of the credential fields, inline rather than $refs: in OpenAPI 3.0
 * `nullable` next to a $ref (allOf) does not admit null, and these fields take null.
 */
export const AUTH_INPUT_SCHEMA: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  // `required` lists the object's own required fields; `selfRequired` says whether the field itself is.
  required: ['type'],
  selfRequired: false,
  properties: {
    type: { type: 'string' as const, enum: [...AUTH_TYPES], description: '`basic` (username, password), `bearer` (token) or `oauth2` (client credentials: token_url, client_id, client_secret, scope, audience)' },
    username: text(CREDENTIAL_LIMITS.username, 'basic: the user name (no colon)'),
    password: text(CREDENTIAL_LIMITS.secret, `basic: the password. Never shown. ${KEEP_STORED}`, { writeOnly: true }),
    token: text(CREDENTIAL_LIMITS.secret, `bearer: the token sent as \`Authorization: Bearer <token>\`. Never shown. ${KEEP_STORED}`, { writeOnly: true }),
    token_url: text(CREDENTIAL_LIMITS.tokenUrl, 'oauth2: the token endpoint, a full http:// or https:// URL, checked against the outbound policy like a target', { example: 'https://auth.example.com/oauth/token' }),
    client_id: text(CREDENTIAL_LIMITS.clientId, 'oauth2: the client id'),
    client_secret: text(CREDENTIAL_LIMITS.secret, `oauth2: the client secret. Never shown. ${KEEP_STORED}`, { writeOnly: true }),
    scope: text(CREDENTIAL_LIMITS.scope, 'oauth2: the scope asked for (space-separated)'),
    audience: text(CREDENTIAL_LIMITS.audience, 'oauth2: the audience asked for (the `audience` form field some providers need)'),
  },
};
export const CERTIFICATE_INPUT_SCHEMA: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  required: ['cert'],
  selfRequired: false,
  properties: {
    cert: text(CREDENTIAL_LIMITS.certPem, 'The client certificate, PEM (optionally followed by its intermediate certificates)'),
    key: text(CREDENTIAL_LIMITS.keyPem, "The certificate's private key, PEM, unencrypted. Never shown. Leave it out on an edit to keep the stored one.", { writeOnly: true }),
    ca: text(CREDENTIAL_LIMITS.caPem, 'CA certificates (PEM) to trust for the target instead of the system ones'),
  },
};
export const AUTH_VIEW_SCHEMA: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  required: ['type', 'has_secret'],
  selfRequired: true,
  properties: {
    type: { type: 'string' as const, enum: [...AUTH_TYPES] },
    // Every public setting the entity stores (TargetAuthSettings), and only those: `satisfies` checks it.
    ...({
      username: { type: 'string' as const, description: 'basic' },
      token_url: { type: 'string' as const, description: 'oauth2' },
      client_id: { type: 'string' as const, description: 'oauth2' },
      scope: { type: 'string' as const, description: 'oauth2' },
      audience: { type: 'string' as const, description: 'oauth2' },
    } satisfies Record<Exclude<keyof TargetAuthSettings, 'type'>, { type: 'string'; description: string }>),
    has_secret: { type: 'boolean' as const, description: 'A secret (password, token or client secret) is stored; it is never shown' },
  },
};
const nullableText = (description: string, more: Record<string, unknown> = {}) => ({ type: 'string' as const, nullable: true, description, ...more });
export const CERTIFICATE_VIEW_SCHEMA: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  required: ['subject', 'issuer', 'valid_from', 'valid_to', 'fingerprint256', 'has_key', 'has_ca'],
  selfRequired: true,
  properties: {
    subject: nullableText('The subject, e.g. `CN=provisioning, O=Example`'),
    issuer: nullableText('The issuer'),
    valid_from: nullableText('Start of validity', { format: 'date-time' }),
    valid_to: nullableText('End of validity', { format: 'date-time' }),
    fingerprint256: nullableText('SHA-256 fingerprint of the certificate'),
    has_key: { type: 'boolean' as const, description: 'The private key is stored; it is never shown' },
    has_ca: { type: 'boolean' as const, description: 'CA certificates to trust for the target are stored' },
  },
};

/**
 * How the handler authenticates to its target: one kind, with the fields of that kind only
 * (src/handlers/handler-credentials.ts checks which). Documented by AUTH_INPUT_SCHEMA.
 */
export class TargetAuthDto {
  @IsIn(AUTH_TYPES)
  type: AuthType;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.username)
  username?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  password?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  token?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.tokenUrl)
  token_url?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.clientId)
  client_id?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.secret)
  client_secret?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.scope)
  scope?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.audience)
  audience?: string;
}

/** An mTLS client certificate for an https handler. Documented by CERTIFICATE_INPUT_SCHEMA. */
export class ClientCertificateDto {
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.certPem)
  cert: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.keyPem)
  key?: string;

  @Omittable()
  @IsString()
  @Length(1, CREDENTIAL_LIMITS.caPem)
  ca?: string;
}

/** A handler's target authentication as answers show it: the kind and its public settings as stored, never the secret. */
export type TargetAuthViewDto = TargetAuthSettings & { has_secret: boolean };

/** A handler's client certificate as answers show it: what it is, never the key. */
export interface ClientCertificateViewDto {
  subject: string | null;
  issuer: string | null;
  valid_from: string | null;
  valid_to: string | null;
  fingerprint256: string | null;
  has_key: boolean;
  has_ca: boolean;
}
