import { Injectable } from '@nestjs/common';

/**
 * In-process wake-up for the dispatcher: ingest and manual retries ring it after their writes
 * commit, so new work is claimed at once instead of at the next poll. Other instances find it
 * by polling.
 */
@Injectable()
export class WorkSignal {
  private listeners = new Set<() => void>();

  ring(): void {
    for (const listener of this.listeners) listener();
  }

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
