import { Injectable } from '@nestjs/common';

/**
 * In-process wake-up for the dispatcher: ingest rings it after its transaction commits, so a
 * new event is claimed at once instead of at the next poll. Other instances find it by polling.
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
