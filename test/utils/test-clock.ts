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

/**
 * For a suite that starts the whole app (test/utils/suite.ts), where providers cannot be
 * replaced: puts the app's one Clock, the instance every service was given, under the test's
 * control, real time plus an offset. Answers how to move it.
 */
export function takeOverClock(clock: Clock): Pick<TestClock, 'advance'> {
  let offsetMs = 0;
  clock.now = () => Date.now() + offsetMs;
  return { advance: (ms: number) => void (offsetMs += ms) };
}
