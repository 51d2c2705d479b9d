import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Auth } from '../api-keys/auth.decorators.js';

/**
 * Mounted only with BENCH_EMPTY_ROUTE=true. It takes the same request as POST /api/v1/events
 * (key check, JSON body) and does nothing with it, so a benchmark can measure the ceiling of
 * this application's request handling in the same run as ingest.
 */
@ApiExcludeController()
@Controller('api/v1/bench')
export class EmptyRouteController {
  @Post('empty')
  @HttpCode(202)
  @Auth('events', 'admin')
  empty(@Body() _body: Record<string, unknown>): Record<string, never> {
    return {};
  }
}
