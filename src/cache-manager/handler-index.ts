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
  /** One map per stage, keyed by catalog event ID: a lookup builds no key string. */
  private readonly byStage = new Map<HandlerStage, Map<string, readonly HandlerEntity[]>>();
  readonly size: number;

  constructor(handlers: Iterable<HandlerEntity>) {
    const lists = new Map<HandlerStage, Map<string, HandlerEntity[]>>();
    let size = 0;
    for (const handler of handlers) {
      if (handler.status !== 'enabled') continue;
      size += 1;
      let stage = lists.get(handler.stage);
      if (!stage) lists.set(handler.stage, (stage = new Map()));
      for (const eventId of expandEventPattern(handler.event)) {
        const list = stage.get(eventId);
        if (list) list.push(handler);
        else stage.set(eventId, [handler]);
      }
    }
    for (const [stage, events] of lists) {
      const frozen = new Map<string, readonly HandlerEntity[]>();
      for (const [eventId, list] of events) frozen.set(eventId, Object.freeze(list.sort(compareHandlers)));
      this.byStage.set(stage, frozen);
    }
    this.size = size;
  }

  lookup(eventId: string, stage: HandlerStage = 'after'): readonly HandlerEntity[] {
    return this.byStage.get(stage)?.get(eventId) ?? EMPTY;
  }
}
