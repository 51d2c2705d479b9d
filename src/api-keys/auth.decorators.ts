import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { Scope } from './scopes.js';

export const AUTH_SCOPES_KEY = 'provisioning:auth-scopes';
export const PUBLIC_ROUTE_KEY = 'provisioning:public-route';

/** The caller, as established by the API key guard. */
export interface Principal {
  keyId: number;
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Where the request came from, for audit rows (src/audit/); set by ApiKeyGuard per request. */
  readonly origin?: RequestOrigin;
}

/** The peer address of the connection (no proxy header is trusted) and the request id, as the logs carry it. */
export interface RequestOrigin {
  readonly address: string;
  readonly requestId: string;
}

/** The route needs a valid key holding at least one of `scopes`. */
export function Auth(...scopes: Scope[]) {
  return applyDecorators(
    SetMetadata(AUTH_SCOPES_KEY, scopes),
    ApiBearerAuth(),
    // OpenAPI 3.0 bearer requirements carry no scopes, so the document states them here.
    ApiExtension('x-required-scopes', { any_of: scopes }),
    ApiUnauthorizedResponse({ description: 'AUTH_REQUIRED or AUTH_INVALID: missing, unknown or revoked key', type: ErrorResponseDto }),
    ApiForbiddenResponse({ description: `SCOPE_FORBIDDEN: the key lacks every one of: ${scopes.join(', ')}`, type: ErrorResponseDto }),
  );
}

/** The route needs no key (health, documentation). */
export const Public = () => SetMetadata(PUBLIC_ROUTE_KEY, true);

export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const request = context.switchToHttp().getRequest<{ principal?: Principal }>();
  if (!request.principal) throw new Error('CurrentPrincipal used on a route without @Auth');
  return request.principal;
});
