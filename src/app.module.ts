import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { buildDataSourceOptions } from './database/data-source.js';
import { DirectSqlModule } from './database/direct-sql.js';
import { ApiKeysModule } from './api-keys/api-keys.module.js';
import { CacheManagerModule } from './cache-manager/cache-manager.module.js';
import { EventsModule } from './events/events.module.js';
import { HandlersModule } from './handlers/handlers.module.js';
import { HealthModule } from './health/health.module.js';
import { DispatcherModule } from './dispatcher/dispatcher.module.js';
import { ExecutionLogsModule } from './execution-logs/execution-logs.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { MetricsControllerModule } from './metrics/metrics-controller.module.js';
import { EmptyRouteModule } from './bench/empty-route.module.js';

@Module({})
export class AppModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({ ...buildDataSourceOptions(config.database), migrationsRun: true }),
        DirectSqlModule,
        ScheduleModule.forRoot(),
        MetricsModule,
        ApiKeysModule,
        CacheManagerModule,
        HandlersModule,
        EventsModule,
        DispatcherModule,
        ExecutionLogsModule,
        MetricsControllerModule,
        HealthModule,
        ...(config.bench.emptyRoute ? [EmptyRouteModule] : []),
      ],
    };
  }
}
