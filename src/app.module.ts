import { DynamicModule, Module, OnApplicationShutdown } from '@nestjs/common';
import type { InstanceLock } from './database/sqlite-instance-lock.js';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { ClockModule } from './common/clock.js';
import { loggerParams } from './common/app-logger.js';
import { IngestRateModule } from './common/ingest-throttler.guard.js';
import { buildDataSourceOptions } from './database/data-source.js';
import { DirectSqlModule } from './database/direct-sql.js';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { CacheManagerModule } from './cache-manager/cache-manager.module.js';
import { EventsModule } from './events/events.module.js';
import { OperationalEventsModule } from './operational-events/operational-events.module.js';
import { DecisionsModule } from './decisions/decisions.module.js';
import { HandlersModule } from './handlers/handlers.module.js';
import { HealthModule } from './health/health.module.js';
import { DispatcherModule } from './dispatcher/dispatcher.module.js';
import { ExecutionLogsModule } from './execution-logs/execution-logs.module.js';
import { RetentionModule } from './retention/retention.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { MetricsControllerModule } from './metrics/metrics-controller.module.js';
import { EmptyRouteModule } from './bench/empty-route.module.js';
import { ConsoleModule } from './console/console.module.js';
import { AuditModule } from './audit/audit.module.js';
import { SecretsModule } from './secrets/secrets.module.js';

/** Holds the SQLite instance lock until the application has shut down. */
class InstanceLockHolder implements OnApplicationShutdown {
  constructor(private readonly lock: InstanceLock | null) {}

  onApplicationShutdown(): void {
    this.lock?.release();
  }
}

@Module({})
export class AppModule {
  static register(config: AppConfig, lock: InstanceLock | null = null): DynamicModule {
    return {
      module: AppModule,
      providers: [{ provide: InstanceLockHolder, useValue: new InstanceLockHolder(lock) }],
      imports: [
        ConfigModule.forRoot(config),
        ClockModule,
        // Request logging and the request id on every line (src/common/app-logger.ts).
        LoggerModule.forRoot(loggerParams(config.log)),
        TypeOrmModule.forRoot({ ...buildDataSourceOptions(config.database), migrationsRun: true }),
        DirectSqlModule,
        SecretsModule,
        ScheduleModule.forRoot(),
        // The ingest rate limit's counts, read by IngestThrottlerGuard on the ingest routes only
        // (src/common/ingest-throttler.guard.ts), kept at a cost flat in the rate.
        IngestRateModule,
        MetricsModule,
        ApiKeysModule,
        CacheManagerModule,
        HandlersModule,
        EventsModule,
        OperationalEventsModule,
        DecisionsModule,
        DispatcherModule,
        ExecutionLogsModule,
        RetentionModule,
        AuditModule,
        MetricsControllerModule,
        HealthModule,
        ...(config.bench.emptyRoute ? [EmptyRouteModule] : []),
        ConsoleModule,
      ],
    };
  }
}
