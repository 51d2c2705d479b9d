import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { existsSync } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { ApiKeyStore, CreatedApiKey } from './api-key-store.js';
import { hashApiKey } from './api-key.codec.js';
import { Principal } from './auth.decorators.js';
import { parseScopes, Scope } from './scopes.js';
import { AuditStore } from '../audit/audit-store.js';
import { cliActor, keyActor } from '../audit/audit-actor.js';

/** How often a key's last-used time is written back; per-request writes would cost the hot path. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/**
 * How long a verified key is trusted without asking the database again. A revocation through
 * this instance applies at once; on other instances within this time.
 */
export const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly store: ApiKeyStore;
  private readonly lastUsedWritten = new Map<number, number>();
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  constructor(
    dataSource: DataSource,
    private readonly config: AppConfig,
    audit: AuditStore,
  ) {
    this.store = new ApiKeyStore(dataSource, audit);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureFirstAdminKey();
  }

  /** On a fresh database: install BOOTSTRAP_ADMIN_KEY, or generate a key into an owner-only file. */
  async ensureFirstAdminKey(): Promise<void> {
    const file = this.config.auth.adminKeyFile;
    const created = await this.store.createBootstrapKey(this.config.auth.bootstrapAdminKey);
    if (created && this.config.auth.bootstrapAdminKey) {
      this.logger.log('First admin key installed from BOOTSTRAP_ADMIN_KEY');
    } else if (created) {
      await writeOwnerOnlyFile(file, `${created.key}\n`);
      this.logger.log(`First admin key written to ${file} (readable by its owner only); store it safely, then delete the file`);
    } else if (existsSync(file)) {
      this.logger.log(`The first admin key is in ${file}; store it safely, then delete the file`);
    }
  }

  async authenticate(key: string): Promise<Principal | null> {
    if (key.length > 512) return null;
    const hash = hashApiKey(key);
    return this.cached(hash) ?? this.verify(hash);
  }

  /**
   * The principal of `key` when it was verified within KEY_CACHE_TTL_MS, without a promise
   * (ApiKeyGuard asks this first: almost every request); undefined when the database must say.
   */
  verifiedPrincipal(key: string): Principal | undefined {
    return key.length > 512 ? undefined : this.cached(hashApiKey(key));
  }

  private cached(hash: string): Principal | undefined {
    const entry = this.verified.get(hash);
    return entry && entry.until > Date.now() ? entry.principal : undefined;
  }

  private async verify(hash: string): Promise<Principal | null> {
    const now = Date.now();
    const record = await this.store.findActiveByHash(hash);
    if (!record) {
      this.verified.delete(hash);
      return null;
    }
    this.noteUse(record.id);
    const principal: Principal = { keyId: record.id, name: record.name, scopes: new Set(parseScopes(record.scopes)) };
    if (this.verified.size >= KEY_CACHE_MAX) this.verified.clear();
    this.verified.set(hash, { principal, until: now + KEY_CACHE_TTL_MS });
    return principal;
  }

  /**
   * A key created through the API (POST /api/v1/api-keys). `internal` lets its holder run
   * programs on the host, so it is granted only by a key that holds `internal` itself; other
   * keys, admin included, get 403 SCOPE_FORBIDDEN.
   */
  create(name: string, scopes: readonly Scope[], creator: Principal): Promise<CreatedApiKey> {
    if (scopes.includes('internal') && !creator.scopes.has('internal')) {
      return Promise.reject(
        DomainError.field(
          'SCOPE_FORBIDDEN',
          'scopes',
          'Only a key holding the internal scope may create internal keys; otherwise create them on the host (npm run keys)',
        ),
      );
    }
    return this.store.create(name, scopes, keyActor(creator));
  }

  /** A key created on the host itself, outside any request (as `npm run keys` does): any scopes; audited as the keys command. */
  createOnHost(name: string, scopes: readonly Scope[]): Promise<CreatedApiKey> {
    return this.store.create(name, scopes, cliActor());
  }

  list(): Promise<ApiKeyEntity[]> {
    return this.store.list();
  }

  async revoke(id: number, revoker: Principal): Promise<ApiKeyEntity> {
    const record = await this.store.revoke(id, keyActor(revoker));
    if (!record) throw DomainError.field('API_KEY_NOT_FOUND', 'id', `API key ${id} does not exist`);
    this.verified.clear();
    return record;
  }

  private noteUse(id: number): void {
    const now = Date.now();
    if (now - (this.lastUsedWritten.get(id) ?? 0) < LAST_USED_WRITE_INTERVAL_MS) return;
    this.lastUsedWritten.set(id, now);
    this.store.touch(id, now).catch((error: Error) => this.logger.warn(`Could not record key use: ${error.message}`));
  }
}

async function writeOwnerOnlyFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Remove any leftover so the new file is created with our mode rather than inheriting an old one.
  await unlink(path).catch(() => undefined);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
}
