import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { HandlersController } from './handlers.controller.js';
import { HandlersService } from './handlers.service.js';

@Module({
  imports: [CacheManagerModule],
  controllers: [HandlersController],
  providers: [HandlersService],
  exports: [HandlersService],
})
export class HandlersModule {}
