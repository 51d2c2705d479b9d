import { isDatabaseTimeout } from './database-errors.js';

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: callers submit one item each; whatever arrives while a write is in flight is
 * written together by the next one, in one transaction. At low load a batch is a single item,
 * so there is no added wait; under load one commit (one fsync) serves many callers.
 *
 * `write` gets the batch and returns one result per item, in order. If it throws, each item
 * of that batch is written again on its own, so one bad item fails only its own caller; but
 * not when the database gave no answer within its bound (bounded-pool.ts): each single write
 * would wait out the same bound again, one after the other.
 *
 * `failsQueue(error)`: when a write fails with such an error, the items waiting for their turn
 * fail with it too. For errors that mean "the database gave no answer for the whole bound":
 * a caller queued behind a stalled write then waits for one bound, not for one more per write.
 *
 * `writers` (default 1) is how many writes may be in flight at once: with a database server
 * that works on its own cores, a second write overlaps the first one's round trips.
 */
export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private writing = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
    private readonly writers = 1,
    private readonly failsQueue: (error: unknown) => boolean = () => false,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Writes on the next turn of the event loop rather than at once. With a synchronous driver
   * (better-sqlite3) a write never yields to pending I/O, so without this pause the requests
   * that arrived together would still be committed one by one.
   */
  private schedule(): void {
    if (this.writing >= this.writers || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.writing < this.writers && this.queue.length > 0) void this.drain(this.queue.splice(0, this.maxBatch));
    });
  }

  private async drain(batch: Waiting<I, O>[]): Promise<void> {
    this.writing += 1;
    try {
      try {
        const results = await this.write(batch.map((entry) => entry.item));
        batch.forEach((entry, index) => entry.resolve(results[index]!));
      } catch (error) {
        if (this.failsQueue(error)) {
          for (const entry of this.queue.splice(0)) entry.reject(error);
        }
        if (batch.length === 1 || isDatabaseTimeout(error)) {
          for (const entry of batch) entry.reject(error);
          return;
        }
        for (const entry of batch) {
          try {
            const [result] = await this.write([entry.item]);
            entry.resolve(result!);
          } catch (single) {
            entry.reject(single);
          }
        }
      }
    } finally {
      this.writing -= 1;
      this.schedule();
    }
  }
}
