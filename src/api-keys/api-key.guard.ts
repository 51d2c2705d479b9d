import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../common/errors.js';
import { ApiKeysService } from './api-keys.service.js';
import { AUTH_SCOPES_KEY, Principal, PUBLIC_ROUTE_KEY } from './auth.decorators.js';
import { Scope } from './scopes.js';

/**
 * Global guard: every route needs a Bearer key unless marked @Public().
 * A route without @Auth(...) needs the admin scope, so a forgotten decorator fails closed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE_KEY, targets)) return true;
    const required = this.reflector.getAllAndOverride<Scope[]>(AUTH_SCOPES_KEY, targets) ?? ['admin'];

    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; principal?: Principal; id: string; ip: string }>();
    const header = request.headers['authorization'];
    if (!header) throw new DomainError('AUTH_REQUIRED', 'An API key is required: send "Authorization: Bearer <key>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new DomainError('AUTH_INVALID', 'The Authorization header must be "Bearer <key>"');

    const principal = await this.apiKeys.authenticate(match[1]!);
    if (!principal) throw new DomainError('AUTH_INVALID', 'The API key is unknown or revoked');
    if (!required.some((scope) => principal.scopes.has(scope))) {
      throw new DomainError('SCOPE_FORBIDDEN', `This endpoint needs a key with one of the scopes: ${required.join(', ')}`);
    }
    // The authenticated key is cached and shared; each request gets its own copy with its origin,
    // whose address is read only if the request makes an audited change.
    request.principal = {
      ...principal,
      origin: {
        requestId: request.id,
        get address() {
          return request.ip;
        },
      },
    };
    return true;
  }
}
