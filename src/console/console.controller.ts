import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../api-keys/auth.decorators.js';
import { DomainError } from '../common/errors.js';
import { CONSOLE_SECURITY_HEADERS, ConsoleAsset, loadConsoleAssets } from './console-assets.js';

/**
 * Serves the operator console (static HTML, CSS and JavaScript modules) at /console. The page
 * holds no data, so it needs no key; everything it shows comes from the API with the key the
 * operator enters.
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  private readonly assets: ReadonlyMap<string, ConsoleAsset> = loadConsoleAssets();

  @Get()
  index(@Res() reply: FastifyReply): void {
    this.send(reply, 'index.html');
  }

  @Get(':file')
  file(@Param('file') file: string, @Res() reply: FastifyReply): void {
    this.send(reply, file);
  }

  private send(reply: FastifyReply, name: string): void {
    const asset = this.assets.get(name);
    if (!asset) throw new DomainError('ROUTE_NOT_FOUND', 'No such route');
    void reply.headers(CONSOLE_SECURITY_HEADERS).header('content-type', asset.contentType).send(asset.body);
  }
}
