import { Clock } from '../../src/common/clock.js';

/**
 * The flow-control Clock (src/common/clock.ts) for tests: real time plus an offset the test
 * moves forward, so a maintenance window or a circuit's cool-down passes without waiting.
 */
export class TestClock extends Clock {
  private offsetMs = 0;

  override now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }
}
