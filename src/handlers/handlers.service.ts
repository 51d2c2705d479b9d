import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { NetworkPolicy } from '../common/network-policy.js';
import { Page } from '../common/pagination.dto.js';
import { Principal } from '../api-keys/auth.decorators.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { CreateHandlerDto, HANDLER_LIMITS, ListHandlersQueryDto, UpdateHandlerDto } from './dto/handler.dto.js';
import { FLOW_STATE_COLUMNS, HandlerEntity } from './handler.entity.js';
import { HandlerPauseEntity } from './handler-pause.entity.js';
import { assertValidHandler, RuleContext } from './handler-rules.js';
import { MASK, toHandlerDto } from './handler-view.js';
import { generateSigningSecret } from '../calls/webhook-signer.js';
import { resolveScriptUser, ScriptUser, scriptAccessProblem } from '../calls/script-user.js';
import { resolveScriptPath } from './script-path.js';
import { AuditEntry, AuditStore } from '../audit/audit-store.js';
import { keyActor, SYSTEM_ACTOR } from '../audit/audit-actor.js';
import { SecretBox } from '../secrets/secret-box.js';
import { openHandlerSecrets, withSealedSecrets } from './handler-secrets.js';
import { OperationalEvents } from '../operational-events/operational-events.service.js';
import { authFromInput, certificateFromInput, HandlerCredentials, NO_CREDENTIALS } from './handler-credentials.js';

@Injectable()
export class HandlersService {
  private readonly rules: RuleContext;
  /** SCRIPT_RUN_AS_USER, when scripts run as another user: a script must be reachable by it. */
  private readonly scriptUser: ScriptUser | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly cache: CacheManagerService,
    private readonly config: AppConfig,
    private readonly audit: AuditStore,
    private readonly box: SecretBox,
    private readonly operational: OperationalEvents,
  ) {
    this.rules = { policy: new NetworkPolicy(config.outbound), scriptsDir: config.scripts.dir, filterLimits: config.filters };
    this.scriptUser = config.scripts.enabled && config.scripts.runAsUser ? resolveScriptUser(config.scripts.runAsUser) : undefined;
  }

  /** The handler's rules, and for a script whether the user scripts run as can reach and run it. */
  private assertValid(handler: HandlerEntity): void {
    assertValidHandler(handler, this.rules);
    if (handler.type !== 'script' || !this.scriptUser) return;
    const problem = scriptAccessProblem(resolveScriptPath(this.rules.scriptsDir, handler.task), this.scriptUser);
    if (problem !== null) throw DomainError.field('SCRIPT_NOT_EXECUTABLE', 'task', `The script cannot be run: ${problem}`);
  }

  private get repository() {
    return this.dataSource.getRepository(HandlerEntity);
  }

  async list(query: ListHandlersQueryDto): Promise<Page<HandlerEntity>> {
    const page = query.page ?? 1;
    const perPage = query.per_page ?? 50;
    const where = {
      ...(query.event ? { event: query.event } : {}),
      ...(query.type ? { type: query.type } : {}),
      status: query.status ? query.status : In(['enabled', 'disabled']),
    };
    const [items, total] = await this.repository.findAndCount({
      where,
      order: { priority: 'ASC', id: 'ASC' },
      skip: (page - 1) * perPage,
      take: perPage,
    });
    return { items: items.map((item) => this.opened(item)), total, page, per_page: perPage };
  }

  async get(id: number): Promise<HandlerEntity> {
    const handler = await this.repository.findOne({ where: { id } });
    if (!handler) throw DomainError.field('HANDLER_NOT_FOUND', 'id', `Handler ${id} does not exist`);
    return this.opened(handler);
  }

  async create(input: CreateHandlerDto, principal: Principal): Promise<HandlerEntity> {
    const now = Date.now();
    const stage = input.stage ?? 'after';
    const handler = this.repository.create({
      name: input.name,
      event: input.event,
      type: input.type,
      task: input.task.trim(),
      status: input.status ?? 'enabled',
      priority: input.priority ?? HANDLER_LIMITS.priorityDefault,
      stage,
      timeoutMs: input.timeout_ms ?? HANDLER_LIMITS.timeoutMsDefault,
      retryLimit: input.retry_limit ?? HANDLER_LIMITS.retryLimitDefault,
      headers: input.headers ?? {},
      filter: input.filter ?? null,
      onFailure: stage === 'before' ? (input.on_failure ?? 'forbid') : (input.on_failure ?? null),
      disabledReason: null,
      signingSecret: generateSigningSecret(),
      previousSecret: null,
      previousSecretExpiresAt: null,
      failingSince: null,
      maxConcurrency: input.max_concurrency ?? null,
      rateLimit: input.rate_limit ?? null,
      ratePeriod: input.rate_period ?? 'second',
      rateTat: null,
      holdUntil: null,
      circuitState: 'closed',
      circuitSince: null,
      circuitReason: null,
      circuitFailures: 0,
      circuitOpens: 0,
      circuitRetryAt: null,
      circuitWindowStart: null,
      circuitWindowCalls: 0,
      circuitWindowFailures: 0,
      ...credentialColumns(input, NO_CREDENTIALS),
      createdAt: now,
      updatedAt: now,
    });
    this.authorise(principal, handler.type);
    this.assertValid(handler);
    return this.write(async (manager) => {
      const saved = await manager.getRepository(HandlerEntity).save(this.sealed(handler));
      handler.id = saved.id;
      return { result: handler, changedId: saved.id, audit: { actor: keyActor(principal), action: 'handler.create', targetId: saved.id, after: auditView(handler) } };
    });
  }

  async update(id: number, input: UpdateHandlerDto, principal: Principal): Promise<HandlerEntity> {
    const current = await this.get(id);
    this.authorise(principal, current.type);
    const stage = input.stage ?? current.stage;
    const next: HandlerEntity = {
      ...current,
      name: input.name ?? current.name,
      event: input.event ?? current.event,
      type: input.type ?? current.type,
      task: input.task !== undefined ? input.task.trim() : current.task,
      status: input.status ?? current.status,
      priority: input.priority ?? current.priority,
      stage,
      timeoutMs: input.timeout_ms ?? current.timeoutMs,
      retryLimit: input.retry_limit ?? current.retryLimit,
      headers: input.headers !== undefined ? unmaskHeaders(input.headers, current.headers) : current.headers,
      filter: input.filter !== undefined ? input.filter : current.filter,
      onFailure: nextOnFailure(stage, current, input),
      maxConcurrency: input.max_concurrency !== undefined ? input.max_concurrency : current.maxConcurrency,
      rateLimit: input.rate_limit !== undefined ? input.rate_limit : current.rateLimit,
      ratePeriod: input.rate_period ?? current.ratePeriod,
      ...credentialColumns(input, storedCredentials(current)),
      updatedAt: Date.now(),
    };
    if (next.status === 'enabled') {
      next.disabledReason = null;
      next.failingSince = null;
    }
    this.authorise(principal, next.type);
    this.assertValid(next);
    const saved = await this.write(async (manager) => {
      await manager.getRepository(HandlerEntity).update({ id }, this.sealed(editable(next)));
      const action = next.status === 'archived' && current.status !== 'archived' ? 'handler.archive' : 'handler.update';
      return { result: next, changedId: id, audit: { actor: keyActor(principal), action, targetId: id, before: auditView(current), after: auditView(next) } };
    });
    if (current.status !== 'disabled' && saved.status === 'disabled') void this.operational.handler('provisioning.handler.disabled', saved, 'operator', disabledBy(principal));
    return saved;
  }

  /** Quick toggle enabled ↔ disabled. Archived handlers change status only through an edit. */
  async toggle(id: number, principal: Principal): Promise<HandlerEntity> {
    const current = await this.get(id);
    this.authorise(principal, current.type);
    if (current.status === 'archived') {
      throw DomainError.field('HANDLER_ARCHIVED', 'status', `Handler ${id} is archived; change its status through an edit`);
    }
    const next: HandlerEntity = {
      ...current,
      status: current.status === 'enabled' ? 'disabled' : 'enabled',
      disabledReason: null,
      failingSince: null,
      updatedAt: Date.now(),
    };
    const saved = await this.write(async (manager) => {
      await manager
        .getRepository(HandlerEntity)
        .update({ id }, { status: next.status, disabledReason: null, failingSince: null, updatedAt: next.updatedAt });
      return { result: next, changedId: id, audit: { actor: keyActor(principal), action: 'handler.toggle', targetId: id, before: auditView(current), after: auditView(next) } };
    });
    if (saved.status === 'disabled') void this.operational.handler('provisioning.handler.disabled', saved, 'operator', disabledBy(principal));
    return saved;
  }

  /** The signing secrets; the caller has checked for the admin scope. */
  async secrets(id: number): Promise<Pick<HandlerEntity, 'signingSecret' | 'previousSecret' | 'previousSecretExpiresAt'>> {
    const handler = await this.get(id);
    return {
      signingSecret: handler.signingSecret,
      previousSecret: handler.previousSecretExpiresAt !== null && handler.previousSecretExpiresAt > Date.now() ? handler.previousSecret : null,
      previousSecretExpiresAt:
        handler.previousSecretExpiresAt !== null && handler.previousSecretExpiresAt > Date.now() ? handler.previousSecretExpiresAt : null,
    };
  }

  /**
   * A new signing secret. The old one stays valid for SECRET_ROTATION_OVERLAP: calls meanwhile
   * carry a signature for each, so receivers can switch whenever they like.
   */
  async rotateSecret(id: number, principal: Principal): Promise<HandlerEntity> {
    const current = await this.get(id);
    this.authorise(principal, current.type);
    const now = Date.now();
    const next: HandlerEntity = {
      ...current,
      signingSecret: generateSigningSecret(),
      previousSecret: current.signingSecret,
      previousSecretExpiresAt: now + this.config.dispatch.secretRotationOverlapMs,
      updatedAt: now,
    };
    return this.write(async (manager) => {
      await manager.getRepository(HandlerEntity).update(
        { id },
        {
          ...this.sealed({ signingSecret: next.signingSecret, previousSecret: next.previousSecret }),
          previousSecretExpiresAt: next.previousSecretExpiresAt,
          updatedAt: now,
        },
      );
      return { result: next, changedId: id, audit: { actor: keyActor(principal), action: 'handler.secret_rotate', targetId: id, before: auditView(current), after: auditView(next) } };
    });
  }

  /** Disables an enabled handler on the dispatcher's behalf (410 Gone, or failing too long), with the reason shown. */
  async disableAutomatically(id: number, reason: string): Promise<boolean> {
    return this.write(async (manager) => {
      const update = await manager
        .getRepository(HandlerEntity)
        .update({ id, status: 'enabled' }, { status: 'disabled', disabledReason: reason.slice(0, 500), updatedAt: Date.now() });
      const disabled = (update.affected ?? 0) > 0;
      const audit: AuditEntry | undefined = disabled
        ? { actor: SYSTEM_ACTOR, action: 'handler.disable', targetId: id, before: { status: 'enabled' }, after: { status: 'disabled', disabled_reason: reason.slice(0, 500) } }
        : undefined;
      return { result: disabled, changedId: id, audit };
    });
  }

  /** Each handler's circuit state, archived ones left out (the per-handler gauge of /metrics). */
  async circuitStates(): Promise<Pick<HandlerEntity, 'id' | 'name' | 'circuitState'>[]> {
    return this.repository.find({ select: { id: true, name: true, circuitState: true }, where: { status: In(['enabled', 'disabled']) }, order: { id: 'ASC' } });
  }

  /** Removes the handler; execution logs keep its id and name. */
  async remove(id: number, principal: Principal): Promise<void> {
    const current = await this.get(id);
    this.authorise(principal, current.type);
    await this.write(async (manager) => {
      await manager.getRepository(HandlerEntity).delete({ id });
      await manager.getRepository(HandlerPauseEntity).delete({ handlerId: id });
      return { result: current, changedId: id, audit: { actor: keyActor(principal), action: 'handler.delete', targetId: id, before: auditView(current) } };
    });
  }

  /**
   * Script handlers run programs on this host: only with scripts enabled in configuration and
   * a key holding the internal scope. Every other handler needs the admin scope.
   */
  assertMayManage(principal: Principal, type: HandlerEntity['type']): void {
    this.authorise(principal, type);
  }

  private authorise(principal: Principal, type: HandlerEntity['type']): void {
    if (type === 'script') {
      if (!this.config.scripts.enabled) {
        throw DomainError.field('SCRIPT_HANDLERS_DISABLED', 'type', 'Script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)');
      }
      if (!principal.scopes.has('internal')) {
        throw new DomainError('SCOPE_FORBIDDEN', 'Script handlers need a key with the internal scope');
      }
    } else if (!principal.scopes.has('admin')) {
      throw new DomainError('SCOPE_FORBIDDEN', 'Managing HTTP handlers needs a key with the admin scope');
    }
  }

  /** Secrets at rest (src/handlers/handler-secrets.ts): a loaded row is opened here, once; every write is sealed. */
  private opened(row: HandlerEntity): HandlerEntity {
    return openHandlerSecrets(this.box, row);
  }

  private sealed<T extends Pick<HandlerEntity, 'signingSecret' | 'previousSecret'>>(handler: T): T {
    return withSealedSecrets(this.box, handler);
  }

  /**
   * The change, its feed row and its audit row commit together (a change is never without its
   * audit row, nor a row without its change); then this instance's cache applies it at once.
   */
  private async write<T>(work: (manager: EntityManager) => Promise<{ result: T; changedId: number; audit?: AuditEntry }>): Promise<T> {
    const outcome = await this.dataSource.transaction(async (manager) => {
      const done = await work(manager);
      await this.cache.recordChange(manager, done.changedId);
      if (done.audit) await this.audit.record(done.audit, manager);
      return done;
    });
    await this.cache.sync();
    return outcome.result;
  }
}

/**
 * A handler as its audit rows show it: the API's view plus the secrets' fields, which the
 * audit trail's one masking (maskSecrets, src/audit/audit-mask.ts) replaces by the mask, as it
 * does the values of credential headers.
 */
function auditView(handler: HandlerEntity): Record<string, unknown> {
  return {
    ...toHandlerDto(handler),
    headers: handler.headers,
    signing_secret: handler.signingSecret,
    previous_secret: handler.previousSecret,
    previous_secret_expires_at: handler.previousSecretExpiresAt === null ? null : new Date(handler.previousSecretExpiresAt).toISOString(),
  };
}

/** The reason an operator's disable gives in provisioning.handler.disabled: who, by the key's id (never the key). */
function disabledBy(principal: Principal): string {
  return `Disabled by an operator (API key ${principal.keyId})`;
}

/**
 * Target credentials, written: the request's `auth` and `client_certificate` (left out: the
 * stored ones; null: none) checked and turned into the handler's columns. With
 * storedCredentials below, the one place where the service writes and reads the credential
 * columns: `authSecret` and `clientKey` hold the secrets.
 */
function credentialColumns(input: CreateHandlerDto | UpdateHandlerDto, stored: HandlerCredentials): HandlerCredentials {
  const auth =
    input.auth === undefined ? { auth: stored.auth, authSecret: stored.authSecret } : input.auth === null ? { auth: null, authSecret: null } : authFromInput(input.auth, stored);
  const certificate =
    input.client_certificate === undefined
      ? { clientCert: stored.clientCert, clientKey: stored.clientKey, clientCa: stored.clientCa }
      : input.client_certificate === null
        ? { clientCert: null, clientKey: null, clientCa: null }
        : certificateFromInput(input.client_certificate, stored);
  return { ...auth, ...certificate };
}

/** Target credentials, read: a loaded handler's credential columns (see credentialColumns). */
function storedCredentials(handler: HandlerEntity): HandlerCredentials {
  return { auth: handler.auth, authSecret: handler.authSecret, clientCert: handler.clientCert, clientKey: handler.clientKey, clientCa: handler.clientCa };
}

/** The columns an edit writes: all but the id and the flow state the dispatcher keeps (written meanwhile, it must not be put back). */
function editable(handler: HandlerEntity): Omit<HandlerEntity, 'id' | (typeof FLOW_STATE_COLUMNS)[number]> {
  const { id: _id, ...rest } = handler;
  for (const column of FLOW_STATE_COLUMNS) delete (rest as Partial<HandlerEntity>)[column];
  return rest;
}

function nextOnFailure(stage: HandlerEntity['stage'], current: HandlerEntity, input: UpdateHandlerDto): HandlerEntity['onFailure'] {
  if (input.on_failure !== undefined) return input.on_failure;
  if (stage === 'after') return null;
  return current.onFailure ?? 'forbid';
}

/** A masked value sent back unchanged keeps the stored secret instead of overwriting it with the mask. */
function unmaskHeaders(incoming: Record<string, string>, stored: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    result[name] = value === MASK && stored[name] !== undefined ? stored[name]! : value;
  }
  return result;
}
