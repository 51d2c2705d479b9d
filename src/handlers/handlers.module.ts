import { Module } from '@nestjs/common';
import { CacheManagerModule } from '../cache-manager/cache-manager.module.js';
import { HandlersController } from './handlers.controller.js';
import { HandlersService } from './handlers.service.js';
import { HandlerPausesService } from './handler-pauses.service.js';

@Module({
  imports: [CacheManagerModule],
  controllers: [HandlersController],
  providers: [HandlersService, HandlerPausesService],
  exports: [HandlersService, HandlerPausesService],
})
export class HandlersModule {}
