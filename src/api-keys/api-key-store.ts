import { DataSource, IsNull, Repository } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import { AppMetaEntity } from '../database/app-meta.entity.js';
import { displayPrefix, generateApiKey, hashApiKey } from './api-key.codec.js';
import { Scope } from './scopes.js';

export interface CreatedApiKey {
  key: string;
  record: ApiKeyEntity;
}

const BOOTSTRAP_MARKER = 'bootstrap_admin_key';

/**
 * Persistence of API keys over a DataSource. Shared by the Nest service and the
 * key-management script, so both create, list and revoke keys the same way.
 */
export class ApiKeyStore {
  constructor(private readonly dataSource: DataSource) {}

  private get repository() {
    return this.dataSource.getRepository(ApiKeyEntity);
  }

  async create(name: string, scopes: readonly Scope[], key: string = generateApiKey()): Promise<CreatedApiKey> {
    return this.insertKey(this.repository, name, scopes, key);
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

  /** Returns null when no such key exists. Revoking twice keeps the first revocation time. */
  async revoke(id: number): Promise<ApiKeyEntity | null> {
    const record = await this.repository.findOne({ where: { id } });
    if (!record) return null;
    if (record.revokedAt === null) {
      record.revokedAt = Date.now();
      await this.repository.update({ id }, { revokedAt: record.revokedAt });
    }
    return record;
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
        return this.insertKey(manager.getRepository(ApiKeyEntity), name, ['admin'], suppliedKey ?? generateApiKey());
      });
    } catch (error) {
      // Another instance inserted the marker first.
      const again = await this.dataSource.getRepository(AppMetaEntity).findOne({ where: { name: BOOTSTRAP_MARKER } });
      if (again) return null;
      throw error;
    }
  }
}
