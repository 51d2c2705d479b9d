import { expandEventPattern } from '../events/event-patterns.js';
import type { HandlerEntity, HandlerStage } from '../handlers/handler.entity.js';
import { EnvelopeSource, FilterEnvelope, filterEnvelope, FilterTester } from '../handlers/handler-filter.js';

const EMPTY: readonly HandlerEntity[] = Object.freeze([]);

export function compareHandlers(a: Pick<HandlerEntity, 'priority' | 'id'>, b: Pick<HandlerEntity, 'priority' | 'id'>): number {
  return a.priority - b.priority || a.id - b.id;
}

/** A handler's compiled payload filter, or null when it has none (it receives every event of its type). */
export type TesterOf = (handler: HandlerEntity) => FilterTester | null;

/** The handlers of one (stage, event) in run order; `testers[i]` is handlers[i]'s filter, and is null when none of them has one. */
interface Entry {
  readonly handlers: readonly HandlerEntity[];
  readonly testers: readonly (FilterTester | null)[] | null;
}

const noFilters: TesterOf = () => null;

/**
 * Immutable lookup table: (stage, catalog event) → enabled handlers in run order
 * (priority, then id), wildcards already expanded, each with its compiled payload filter.
 * Built once per cache change so that a lookup on the hot path is one Map read, independent
 * of the number of handlers; filters are then evaluated only for the handlers of that event,
 * and an event whose handlers have none costs nothing more.
 */
export class HandlerIndex {
  /** One map per stage, keyed by catalog event ID: a lookup builds no key string. */
  private readonly byStage = new Map<HandlerStage, Map<string, Entry>>();
  readonly size: number;

  constructor(handlers: Iterable<HandlerEntity>, testerOf: TesterOf = noFilters) {
    const lists = new Map<HandlerStage, Map<string, HandlerEntity[]>>();
    const testers = new Map<HandlerEntity, FilterTester | null>();
    let size = 0;
    for (const handler of handlers) {
      if (handler.status !== 'enabled') continue;
      size += 1;
      testers.set(handler, testerOf(handler));
      let stage = lists.get(handler.stage);
      if (!stage) lists.set(handler.stage, (stage = new Map()));
      for (const eventId of expandEventPattern(handler.event)) {
        const list = stage.get(eventId);
        if (list) list.push(handler);
        else stage.set(eventId, [handler]);
      }
    }
    for (const [stage, events] of lists) {
      const frozen = new Map<string, Entry>();
      for (const [eventId, list] of events) {
        list.sort(compareHandlers);
        const filters = list.map((handler) => testers.get(handler) ?? null);
        frozen.set(eventId, {
          handlers: Object.freeze(list),
          testers: filters.some((tester) => tester !== null) ? Object.freeze(filters) : null,
        });
      }
      this.byStage.set(stage, frozen);
    }
    this.size = size;
  }

  /** Every enabled handler of the event and stage, in run order, whatever their filters. */
  lookup(eventId: string, stage: HandlerStage = 'after'): readonly HandlerEntity[] {
    return this.byStage.get(stage)?.get(eventId)?.handlers ?? EMPTY;
  }

  /**
   * The handlers of the event and stage whose filters match `event`'s envelope, in run order;
   * `filteredOut` hears of each one left out. The envelope's data is parsed once, and only
   * when one of these handlers has a filter; otherwise this is `lookup`.
   */
  select(eventId: string, stage: HandlerStage, event: EnvelopeSource, filteredOut?: (handler: HandlerEntity) => void): readonly HandlerEntity[] {
    const entry = this.byStage.get(stage)?.get(eventId);
    if (!entry) return EMPTY;
    const { handlers, testers } = entry;
    if (testers === null) return handlers;
    let envelope: FilterEnvelope | undefined;
    const chosen: HandlerEntity[] = [];
    for (let i = 0; i < handlers.length; i++) {
      const test = testers[i];
      if (!test || test((envelope ??= filterEnvelope(event)))) chosen.push(handlers[i]!);
      else filteredOut?.(handlers[i]!);
    }
    return chosen;
  }
}
