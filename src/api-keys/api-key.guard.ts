import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '../common/errors.js';
import { ApiKeysService } from './api-keys.service.js';
import { AUTH_SCOPES_KEY, Principal, PUBLIC_ROUTE_KEY, RequestOrigin } from './auth.decorators.js';
import { Scope } from './scopes.js';

/** What a route asks of the caller, as its decorators say. */
interface RouteAuth {
  public: boolean;
  scopes: readonly Scope[];
}

/** The request as the guard reads and marks it. */
interface GuardedRequest {
  headers: Record<string, string | undefined>;
  principal?: Principal;
  id: string;
  ip: string;
}

/**
 * The authenticated key as one request sees it: the cached key's fields, and the request's
 * origin for audit rows, whose address is read only if the request makes an audited change.
 */
class RequestPrincipal implements Principal {
  readonly keyId: number;
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  readonly origin: RequestOrigin;

  constructor(key: Principal, request: GuardedRequest) {
    this.keyId = key.keyId;
    this.name = key.name;
    this.scopes = key.scopes;
    this.origin = new LazyOrigin(request);
  }
}

class LazyOrigin implements RequestOrigin {
  constructor(private readonly request: GuardedRequest) {}

  get requestId(): string {
    return this.request.id;
  }

  get address(): string {
    return this.request.ip;
  }
}

/**
 * Global guard: every route needs a Bearer key unless marked @Public().
 * A route without @Auth(...) needs the admin scope, so a forgotten decorator fails closed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** Per controller class and route handler: decorators do not change once the app runs, so they are read once. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteAuth>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.routeAuth(context);
    if (route.public) return true;

    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const header = request.headers['authorization'];
    if (!header) throw new DomainError('AUTH_REQUIRED', 'An API key is required: send "Authorization: Bearer <key>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new DomainError('AUTH_INVALID', 'The Authorization header must be "Bearer <key>"');

    // Almost every request is by a key verified a moment ago: answered without a round of promises.
    const key = match[1]!;
    const principal = this.apiKeys.verifiedPrincipal(key) ?? (await this.apiKeys.authenticate(key));
    if (!principal) throw new DomainError('AUTH_INVALID', 'The API key is unknown or revoked');
    if (!route.scopes.some((scope) => principal.scopes.has(scope))) {
      throw new DomainError('SCOPE_FORBIDDEN', `This endpoint needs a key with one of the scopes: ${route.scopes.join(', ')}`);
    }
    // The authenticated key is cached and shared; each request gets its own copy with its origin.
    request.principal = new RequestPrincipal(principal, request);
    return true;
  }

  private routeAuth(context: ExecutionContext): RouteAuth {
    const handler = context.getHandler();
    const controller = context.getClass();
    let handlers = this.routes.get(controller);
    if (!handlers) this.routes.set(controller, (handlers = new WeakMap()));
    let route = handlers.get(handler);
    if (!route) {
      const targets = [handler, controller];
      route = {
        public: this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE_KEY, targets) === true,
        scopes: this.reflector.getAllAndOverride<Scope[]>(AUTH_SCOPES_KEY, targets) ?? ['admin'],
      };
      handlers.set(handler, route);
    }
    return route;
  }
}
