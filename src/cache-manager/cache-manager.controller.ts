import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from '../config/app-config.js';
import { Auth } from '../api-keys/auth.decorators.js';
import { CacheManagerService } from './cache-manager.service.js';
import { CacheStatusDto } from './dto/cache-status.dto.js';

@ApiTags('Cache manager')
@Controller('api/v1/cache')
export class CacheManagerController {
  constructor(
    private readonly cache: CacheManagerService,
    private readonly config: AppConfig,
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
  async refresh(): Promise<CacheStatusDto> {
    return this.toDto(await this.cache.refresh());
  }

  private toDto(status: ReturnType<CacheManagerService['status']>): CacheStatusDto {
    return CacheStatusDto.from(status, this.config.cache.refreshCron, this.config.cache.syncIntervalMs);
  }
}
