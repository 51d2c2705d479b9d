import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Auth } from '../api-keys/auth.decorators.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { DispatcherService } from '../dispatcher/dispatcher.service.js';
import { num } from '../database/sql.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('Health')
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly cache: CacheManagerService,
    private readonly dispatcher: DispatcherService,
    private readonly dataSource: DataSource,
  ) {}

  @Get()
  @Auth('admin', 'read')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics: events accepted, deliveries by outcome, call latency, queue depth, cache age' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string' } })
  async scrape(): Promise<string> {
    const rows: { status: string; n: unknown }[] = await this.dataSource.query(
      "SELECT status, COUNT(*) AS n FROM deliveries WHERE status IN ('pending', 'in_progress') GROUP BY status",
    );
    const depth = { pending: 0, in_progress: 0 } as Record<string, number>;
    for (const row of rows) depth[row.status] = num(row.n);
    const cache = this.cache.status();
    const age = cache.refreshedAt === null ? 0 : (Date.now() - Math.max(cache.refreshedAt, cache.syncedAt ?? 0)) / 1000;
    const lines = [
      ...this.metrics.counterLines(),
      '# HELP provisioning_queue_depth Deliveries waiting or running (all instances).',
      '# TYPE provisioning_queue_depth gauge',
      `provisioning_queue_depth{status="pending"} ${depth.pending}`,
      `provisioning_queue_depth{status="in_progress"} ${depth.in_progress}`,
      '# HELP provisioning_deliveries_in_flight Calls this instance is making now.',
      '# TYPE provisioning_deliveries_in_flight gauge',
      `provisioning_deliveries_in_flight ${this.dispatcher.activeCount}`,
      '# HELP provisioning_handler_cache_age_seconds Time since this instance last brought its handler cache up to date.',
      '# TYPE provisioning_handler_cache_age_seconds gauge',
      `provisioning_handler_cache_age_seconds ${age}`,
      '# HELP provisioning_handler_cache_handlers Enabled handlers in this instance\'s cache.',
      '# TYPE provisioning_handler_cache_handlers gauge',
      `provisioning_handler_cache_handlers ${cache.handlerCount}`,
      '# HELP provisioning_handler_cache_version Highest handler change applied by this instance.',
      '# TYPE provisioning_handler_cache_version gauge',
      `provisioning_handler_cache_version ${cache.version}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
