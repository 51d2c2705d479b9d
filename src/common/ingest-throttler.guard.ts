import { CanActivate, ExecutionContext, Global, Injectable, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from './errors.js';
import { IngestRateStorage } from './ingest-rate-storage.js';
import type { Principal } from '../api-keys/auth.decorators.js';

/** The part of Fastify's reply the guard writes to. */
interface HeaderSink {
  header(name: string, value: number): unknown;
}

/**
 * INGEST_RATE_LIMIT requests per INGEST_RATE_WINDOW_MS per API key, counted across every ingest
 * route together (events, batch, decide, source changes), in this instance's memory. Runs after
 * the API key guard, so the caller is known; answers 429 RATE_LIMITED with Retry-After.
 *
 * The answers are @nestjs/throttler's ThrottlerGuard's with one throttler named `default` and
 * its defaults (a key past the limit is blocked for one window; X-RateLimit-Limit, -Remaining
 * and -Reset on every counted answer; Retry-After on the 429), and the counts are kept as its
 * storage keeps them (IngestRateStorage, checked against it in
 * test/unit/ingest-rate-storage.test.ts). It is written out here because that guard, built for
 * any number of throttlers with limits set per route, read six decorator values through the
 * reflector and awaited five promises on every request: 4% of the service's thread during
 * single-event ingest (BENCHMARKS.md, "Single ingest: guards").
 */
@Injectable()
export class IngestThrottlerGuard implements CanActivate {
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(
    config: AppConfig,
    private readonly storage: IngestRateStorage,
  ) {
    this.limit = config.ingest.rateLimit;
    this.windowMs = config.ingest.rateWindowMs;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.limit === 0) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<{ principal?: Principal; ip: string }>();
    const reply = http.getResponse<HeaderSink>();
    const tracker = request.principal ? `key:${request.principal.keyId}` : `ip:${request.ip}`;
    const { totalHits, timeToExpire, isBlocked, timeToBlockExpire } = this.storage.hit(tracker, this.windowMs, this.limit, this.windowMs);
    if (isBlocked) {
      reply.header('Retry-After', timeToBlockExpire);
      throw new DomainError(
        'RATE_LIMITED',
        `More than ${this.limit} ingest requests in ${this.windowMs} ms from this API key (INGEST_RATE_LIMIT); retry after ${timeToBlockExpire} s`,
      );
    }
    reply.header('X-RateLimit-Limit', this.limit);
    reply.header('X-RateLimit-Remaining', Math.max(0, this.limit - totalHits));
    reply.header('X-RateLimit-Reset', timeToExpire);
    return true;
  }
}

/** One IngestRateStorage for every module whose routes use IngestThrottlerGuard. */
@Global()
@Module({ providers: [{ provide: IngestRateStorage, useFactory: () => new IngestRateStorage() }], exports: [IngestRateStorage] })
export class IngestRateModule {}
