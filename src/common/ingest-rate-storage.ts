import type { ThrottlerStorage } from '@nestjs/throttler';

/** What ThrottlerStorage.increment answers (@nestjs/throttler's ThrottlerStorageRecord). */
export interface RateRecord {
  totalHits: number;
  /** Seconds until the key's window restarts. */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds until a blocked key is let through again (the 429's Retry-After). */
  timeToBlockExpire: number;
}

/** One key's counted hits: when each expires, oldest first, in a ring that grows as needed. */
class KeyHits {
  private expiries = new Float64Array(16);
  private start = 0;
  count = 0;
  windowEndsAt: number;
  blocked = false;
  blockEndsAt = 0;

  constructor(now: number, ttl: number) {
    this.windowEndsAt = now + ttl;
  }

  /** Forgets the hits that expired by `now`; each hit is forgotten once, so this is O(1) amortised. */
  prune(now: number): void {
    while (this.count > 0 && this.expiries[this.start] <= now) {
      this.start = (this.start + 1) % this.expiries.length;
      this.count--;
    }
  }

  add(expiresAt: number): void {
    if (this.count === this.expiries.length) {
      const grown = new Float64Array(this.expiries.length * 2);
      for (let i = 0; i < this.count; i++) grown[i] = this.expiries[(this.start + i) % this.expiries.length];
      this.expiries = grown;
      this.start = 0;
    }
    this.expiries[(this.start + this.count) % this.expiries.length] = expiresAt;
    this.count++;
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }

  oldest(): number {
    return this.expiries[this.start];
  }
}

/** How often idle keys are forgotten, at most (checked on a request; no timer to stop). */
const SWEEP_MS = 60_000;

/**
 * The ingest rate limit's counts (IngestThrottlerGuard, src/common/ingest-throttler.guard.ts), a
 * drop-in for @nestjs/throttler's in-memory ThrottlerStorageService with the same answers: a
 * sliding log of each key's hits, a key blocked for `blockDuration` once it passes the limit,
 * counted afresh when the block ends. That service filters every hit of the window into a new
 * array on each request, so a request costs time and garbage in proportion to the rate (10,000
 * hits at the default limit); here the hits sit in a ring, oldest first, and each is dropped
 * once when it expires: a request costs the same at any rate.
 */
export class IngestRateStorage implements ThrottlerStorage {
  private readonly keys = new Map<string, KeyHits>();
  private sweptAt = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<RateRecord> {
    return this.hit(`${throttlerName}\u0000${key}`, ttl, limit, blockDuration);
  }

  /** The synchronous body of `increment`, in the order of ThrottlerStorageService's steps. */
  hit(key: string, ttl: number, limit: number, blockDuration: number): RateRecord {
    const now = this.clock();
    this.sweep(now);
    let hits = this.keys.get(key);
    if (!hits) this.keys.set(key, (hits = new KeyHits(now, ttl)));
    hits.prune(now);
    if (hits.windowEndsAt <= now) hits.windowEndsAt = now + ttl;
    const timeToExpire = seconds(hits.windowEndsAt - now);

    if (blockDuration <= 0) {
      const isBlocked = hits.count >= limit;
      if (!isBlocked) hits.add(now + ttl);
      return {
        totalHits: hits.count + (isBlocked ? 1 : 0),
        timeToExpire,
        isBlocked,
        timeToBlockExpire: isBlocked ? seconds(hits.oldest() - now) : 0,
      };
    }
    if (!hits.blocked) hits.add(now + ttl);
    if (hits.count > limit && !hits.blocked) {
      hits.blocked = true;
      hits.blockEndsAt = now + blockDuration;
    }
    const timeToBlockExpire = seconds(hits.blockEndsAt - now);
    if (timeToBlockExpire <= 0 && hits.blocked) {
      hits.blocked = false;
      hits.clear();
      hits.add(now + ttl);
    }
    return { totalHits: hits.count, timeToExpire, isBlocked: hits.blocked, timeToBlockExpire };
  }

  /** How many keys are remembered (for tests: idle ones are forgotten). */
  get size(): number {
    return this.keys.size;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_MS) return;
    this.sweptAt = now;
    for (const [key, hits] of this.keys) {
      hits.prune(now);
      if (hits.count === 0 && !(hits.blocked && hits.blockEndsAt > now) && hits.windowEndsAt <= now) this.keys.delete(key);
    }
  }
}

/** Whole seconds, rounded up, as ThrottlerStorageService answers them. */
function seconds(ms: number): number {
  return Math.ceil(ms / 1000);
}
