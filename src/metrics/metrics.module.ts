import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service.js';

/** The counters, injectable everywhere; the /metrics route lives in MetricsControllerModule. */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
