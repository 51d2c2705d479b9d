import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from '../api-keys/auth.decorators.js';
import { AppConfig } from '../config/app-config.js';

class LivenessDto {
  @ApiProperty({ example: 'ok' }) status: string;
}

class ReadinessDto {
  @ApiProperty({ example: 'ok', enum: ['ok', 'unavailable'] }) status: string;
  @ApiProperty({ example: 'ok', enum: ['ok', 'unreachable'] }) database: string;
  @ApiProperty({ example: 'ok', enum: ['ok', 'pending', 'unknown'] }) migrations: string;
}

@ApiTags('Health')
@Controller('health')
@Public()
export class HealthController {
  /** Once every migration is applied it stays so for this process: later probes only ask the database to answer. */
  private migrationsApplied = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ApiOkResponse({ type: LivenessDto })
  live(): LivenessDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied' })
  @ApiOkResponse({ type: ReadinessDto })
  @ApiServiceUnavailableResponse({ type: ReadinessDto, description: 'Not ready: the database does not answer or a migration is pending' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessDto> {
    let database = 'ok';
    let migrations = 'unknown';
    // A database that does not answer is "unreachable" after READINESS_TIMEOUT_MS, whatever the
    // statement bounds are: a load balancer's probe must get its answer within its own timeout.
    // The abandoned check still ends within the pool's bounds (bounded-pool.ts).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('readiness timeout')), this.config.databaseTimeouts.readinessMs);
    });
    try {
      const check = this.check();
      check.catch(() => undefined);
      migrations = await Promise.race([check, deadline]);
    } catch {
      database = 'unreachable';
    } finally {
      clearTimeout(timer);
    }
    const ready = database === 'ok' && migrations === 'ok';
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', database, migrations };
  }

  /** 'ok' or 'pending'; throws when the database does not answer. */
  private async check(): Promise<string> {
    await this.dataSource.query('SELECT 1');
    if (this.migrationsApplied) return 'ok';
    const pending = await this.dataSource.showMigrations();
    this.migrationsApplied = !pending;
    return pending ? 'pending' : 'ok';
  }
}
