import { DataSource, IsNull, Repository } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { AppMetaEntity } from '../database/app-meta.entity.js';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key.codec.js';
import { Scope } from './scopes.js';
import { ApiKeyDto } from './dto/api-key.dto.js';
import { AuditStore } from '../audit/audit-store.js';
import { AuditActor, SYSTEM_ACTOR } from '../audit/audit-actor.js';

export interface CreatedApiKey {
  key: string;
  record: ApiKeyEntity;
}

const BOOTSTRAP_MARKER = 'bootstrap_admin_key';

/**
 * Persistence of API keys over a DataSource. Shared by the Nest service and the
 * key-management script, so both create, list and revoke keys the same way, each change with
 * its audit row in the same transaction.
 */
export class ApiKeyStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditStore,
  ) {}

  private get repository() {
    return this.dataSource.getRepository(ApiKeyEntity);
  }

  /** A new key, recorded as made by `actor`; the key itself is never in the audit row, only its listed fields. */
  async create(name: string, scopes: readonly Scope[], actor: AuditActor, key: string = generateApiKey()): Promise<CreatedApiKey> {
    return this.dataSource.transaction(async (manager) => {
      const created = await this.insertKey(manager.getRepository(ApiKeyEntity), name, scopes, key);
      await this.audit.record({ actor, action: 'api_key.create', targetId: created.record.id, after: ApiKeyDto.from(created.record) }, manager);
      return created;
    });
  }

  private async insertKey(
    repository: Repository<ApiKeyEntity>,
    name: string,
    scopes: readonly Scope[],
    key: string,
  ): Promise<CreatedApiKey> {
    const record = repository.create({
      name,
      keyHash: hashApiKey(key),
      keyPrefix: displayPrefix(key),
      scopes: [...new Set(scopes)].join(','),
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    });
    await repository.insert(record);
    return { key, record };
  }

  list(): Promise<ApiKeyEntity[]> {
    return this.repository.find({ order: { id: 'ASC' } });
  }

  findActiveByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.repository.findOne({ where: { keyHash, revokedAt: IsNull() } });
  }

  /**
   * Returns null when no such key exists. Revoking twice keeps the first revocation time, and
   * only the revocation that changed the key has an audit row.
   */
  async revoke(id: number, actor: AuditActor): Promise<ApiKeyEntity | null> {
    return this.dataSource.transaction(async (manager) => {
      const repository = manager.getRepository(ApiKeyEntity);
      const record = await repository.findOne({ where: { id } });
      if (!record || record.revokedAt !== null) return record;
      const revokedAt = Date.now();
      const update = await repository.update({ id, revokedAt: IsNull() }, { revokedAt });
      // Another revocation came first: it holds the time, and the audit row.
      if ((update.affected ?? 0) === 0) return repository.findOne({ where: { id } });
      const before = ApiKeyDto.from(record);
      record.revokedAt = revokedAt;
      await this.audit.record({ actor, action: 'api_key.revoke', targetId: id, before, after: ApiKeyDto.from(record) }, manager);
      return record;
    });
  }

  async touch(id: number, at: number): Promise<void> {
    await this.repository.update({ id }, { lastUsedAt: at });
  }

  /**
   * Creates the first admin key exactly once per database, even when several instances
   * start together: the marker row's primary key lets only one transaction win.
   * Returns the created key, or null when the database already had its first key.
   */
  async createBootstrapKey(suppliedKey: string | undefined): Promise<CreatedApiKey | null> {
    const existing = await this.dataSource.getRepository(AppMetaEntity).findOne({ where: { name: BOOTSTRAP_MARKER } });
    if (existing) return null;
    try {
      return await this.dataSource.transaction(async (manager) => {
        await manager.getRepository(AppMetaEntity).insert({ name: BOOTSTRAP_MARKER, value: 'created', updatedAt: Date.now() });
        const name = suppliedKey ? 'bootstrap (BOOTSTRAP_ADMIN_KEY)' : 'bootstrap';
        const created = await this.insertKey(manager.getRepository(ApiKeyEntity), name, ['admin'], suppliedKey ?? generateApiKey());
        await this.audit.record({ actor: SYSTEM_ACTOR, action: 'api_key.create', targetId: created.record.id, after: ApiKeyDto.from(created.record) }, manager);
        return created;
      });
    } catch (error) {
      // Another instance inserted the marker first.
      const again = await this.dataSource.getRepository(AppMetaEntity).findOne({ where: { name: BOOTSTRAP_MARKER } });
      if (again) return null;
      throw error;
    }
  }
}
