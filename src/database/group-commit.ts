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
 * of that batch is written again on its own, so one bad item fails only its own caller.
 */
export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private writing = false;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly maxBatch = 200,
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
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.write(batch.map((entry) => entry.item));
          batch.forEach((entry, index) => entry.resolve(results[index]!));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
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
      }
    } finally {
      this.writing = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
