import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config.js';
import { Auth, CurrentPrincipal, Principal } from '../api-keys/auth.decorators.js';
import { AuditStore } from '../audit/audit-store.js';
import { keyActor } from '../audit/audit-actor.js';
import { CacheManagerService } from './cache-manager.service.js';
import { CacheStatusDto } from './dto/cache-status.dto.js';

@ApiTags('Cache manager')
@Controller('api/v1/cache')
export class CacheManagerController {
  constructor(
    private readonly cache: CacheManagerService,
    private readonly config: AppConfig,
    private readonly audit: AuditStore,
  ) {}

  @Get()
  @Auth('admin', 'read')
  @ApiOperation({ summary: "This instance's handler cache: last refresh, its duration, handler count, version" })
  @ApiOkResponse({ type: CacheStatusDto })
  status(): CacheStatusDto {
    return this.toDto(this.cache.status());
  }

  @Post('refresh')
  @HttpCode(200)
  @Auth('admin')
  @ApiOperation({ summary: 'Reload the handler cache of this instance from the database now' })
  @ApiOkResponse({ type: CacheStatusDto })
  async refresh(@CurrentPrincipal() principal: Principal): Promise<CacheStatusDto> {
    const status = await this.cache.refresh();
    // The reload changes no record, only this instance's memory: recorded once it is done.
    await this.audit.record({ actor: keyActor(principal), action: 'cache.refresh', targetId: null, after: { handler_count: status.handlerCount, version: status.version } });
    return this.toDto(status);
  }

  private toDto(status: ReturnType<CacheManagerService['status']>): CacheStatusDto {
    return CacheStatusDto.from(status, this.config.cache.refreshCron, this.config.cache.syncIntervalMs);
  }
}
