import { Module } from '@nestjs/common';
import { CacheManagerController } from './cache-manager.controller.js';
import { CacheManagerService } from './cache-manager.service.js';

@Module({
  controllers: [CacheManagerController],
  providers: [CacheManagerService],
  exports: [CacheManagerService],
})
export class CacheManagerModule {}
