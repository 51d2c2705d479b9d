import { Global, Injectable, Module } from '@nestjs/common';

/**
 * The time flow control goes by: pauses and maintenance windows, the circuit breaker's
 * cool-downs and the rate limits (src/dispatcher/flow-control.ts, src/handlers/handler-flow.ts).
 * One provider, so a test can put the clock forward instead of waiting for a window to open.
 */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}

/** Makes the one Clock injectable everywhere. */
@Global()
@Module({ providers: [Clock], exports: [Clock] })
export class ClockModule {}
