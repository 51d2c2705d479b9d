import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Auth } from '../api-keys/auth.decorators.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('Health')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Auth('admin', 'read')
  @ApiOperation({
    summary:
      'Prometheus metrics: events accepted by event ID, deliveries by outcome, call duration, queue depth and oldest due age, cache age and size',
  })
  // Only the 200 answer is text; errors (401, 403) are JSON like everywhere else, so the media
  // type is declared on this response alone rather than for the whole operation.
  @ApiOkResponse({ description: 'Prometheus text exposition format (text/plain; version=0.0.4)', content: { 'text/plain': { schema: { type: 'string' } } } })
  async scrape(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const page = await this.metrics.scrape();
    void reply.header('content-type', this.metrics.contentType);
    return page;
  }
}
