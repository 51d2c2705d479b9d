/**
 * Tracks which rows of the `handler_changes` feed this instance has applied.
 *
 * Versions come from an auto-increment, and on MySQL two writers can commit out of order
 * (version 11 visible before 10). So each poll re-reads a window of recent versions below
 * the highest seen and applies only the ones it has not seen yet. A change that stays
 * invisible for longer than the window is still picked up by the scheduled full refresh.
 */
export class ChangeFeedCursor {
  private high = 0;
  private readonly seen = new Set<number>();

  constructor(private readonly window = 200) {}

  /** The highest version applied: the cache's version. */
  get version(): number {
    return this.high;
  }

  /** Poll for versions strictly greater than this. */
  get floor(): number {
    return Math.max(0, this.high - this.window);
  }

  /** Records the rows of one poll; returns the ones not applied before. */
  take<T extends { version: number }>(rows: readonly T[]): T[] {
    const fresh = rows.filter((row) => !this.seen.has(row.version));
    for (const row of fresh) {
      this.seen.add(row.version);
      if (row.version > this.high) this.high = row.version;
    }
    this.prune();
    return fresh;
  }

  /** After a full reload: everything up to `high`, and these visible versions, are applied. */
  reset(high: number, visibleVersions: readonly number[]): void {
    this.high = Math.max(high, 0);
    this.seen.clear();
    for (const version of visibleVersions) this.seen.add(version);
    this.prune();
  }

  private prune(): void {
    const floor = this.floor;
    for (const version of this.seen) if (version <= floor) this.seen.delete(version);
  }
}
