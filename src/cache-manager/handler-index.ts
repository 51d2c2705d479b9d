import { expandEventPattern } from '../events/event-patterns.js';
import type { HandlerEntity, HandlerStage } from '../handlers/handler.entity.js';

const EMPTY: readonly HandlerEntity[] = Object.freeze([]);

export function compareHandlers(a: Pick<HandlerEntity, 'priority' | 'id'>, b: Pick<HandlerEntity, 'priority' | 'id'>): number {
  return a.priority - b.priority || a.id - b.id;
}

/**
 * Immutable lookup table: (stage, catalog event) → enabled handlers in run order
 * (priority, then id), wildcards already expanded. Built once per cache change so that a
 * lookup on the hot path is one Map read, independent of the number of handlers.
 */
export class HandlerIndex {
  private readonly byKey = new Map<string, readonly HandlerEntity[]>();
  readonly size: number;

  constructor(handlers: Iterable<HandlerEntity>) {
    const lists = new Map<string, HandlerEntity[]>();
    let size = 0;
    for (const handler of handlers) {
      if (handler.status !== 'enabled') continue;
      size += 1;
      for (const eventId of expandEventPattern(handler.event)) {
        const key = HandlerIndex.key(handler.stage, eventId);
        const list = lists.get(key);
        if (list) list.push(handler);
        else lists.set(key, [handler]);
      }
    }
    for (const [key, list] of lists) this.byKey.set(key, Object.freeze(list.sort(compareHandlers)));
    this.size = size;
  }

  lookup(eventId: string, stage: HandlerStage = 'after'): readonly HandlerEntity[] {
    return this.byKey.get(HandlerIndex.key(stage, eventId)) ?? EMPTY;
  }

  private static key(stage: HandlerStage, eventId: string): string {
    return `${stage} ${eventId}`;
  }
}
