import { ApiProperty } from '@nestjs/swagger';
import { CacheStatus } from '../cache-manager.service.js';

export class CacheStatusDto {
  @ApiProperty({ description: 'Highest handler change applied to this instance\'s cache', example: 42 })
  version: number;

  @ApiProperty({ description: 'Enabled handlers held in memory', example: 7 })
  handler_count: number;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Last full reload' })
  refreshed_at: string | null;

  @ApiProperty({ nullable: true, type: Number, description: 'Duration of the last full reload, ms' })
  refresh_duration_ms: number | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'Last check of the change feed' })
  synced_at: string | null;

  @ApiProperty({ example: '*/5 * * * *' })
  refresh_cron: string;

  @ApiProperty({ example: 1000, description: 'How often the change feed is polled, ms' })
  sync_interval_ms: number;

  static from(status: CacheStatus, cron: string, syncIntervalMs: number): CacheStatusDto {
    const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());
    return {
      version: status.version,
      handler_count: status.handlerCount,
      refreshed_at: iso(status.refreshedAt),
      refresh_duration_ms: status.refreshDurationMs,
      synced_at: iso(status.syncedAt),
      refresh_cron: cron,
      sync_interval_ms: syncIntervalMs,
    };
  }
}
