import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { ThrottlerLimitDetail } from '@nestjs/throttler';
import { DomainError } from './errors.js';
import type { Principal } from '../api-keys/auth.decorators.js';

/**
 * INGEST_RATE_LIMIT requests per INGEST_RATE_WINDOW_MS per API key, counted across every ingest
 * route together (events, batch, decide, source changes), in this instance's memory. Runs after
 * the API key guard, so the caller is known; answers 429 RATE_LIMITED with Retry-After.
 */
@Injectable()
export class IngestThrottlerGuard extends ThrottlerGuard {
  protected override async shouldSkip(): Promise<boolean> {
    return this.throttlers.every((throttler) => throttler.limit === 0);
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const principal = request.principal as Principal | undefined;
    return principal ? `key:${principal.keyId}` : `ip:${String(request.ip)}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `ingest:${name}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new DomainError(
      'RATE_LIMITED',
      `More than ${detail.limit} ingest requests in ${detail.ttl} ms from this API key (INGEST_RATE_LIMIT); retry after ${detail.timeToBlockExpire} s`,
    );
  }
}
