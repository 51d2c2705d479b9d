import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditController } from './audit.controller.js';
import { AuditStore } from './audit-store.js';

/**
 * The audit trail: the `audit_log` table (AuditStore), GET /api/v1/audit (its optional
 * retention, AUDIT_RETENTION, runs with the others in src/retention/). Global, because the modules that make changes (handlers, API keys, the cache,
 * deliveries) all record them, and it depends on none of them.
 */
@Global()
@Module({
  controllers: [AuditController],
  providers: [{ provide: AuditStore, useFactory: (dataSource: DataSource) => new AuditStore(dataSource), inject: [DataSource] }],
  exports: [AuditStore],
})
export class AuditModule {}
