import type { EntityKind } from '../event-catalog.js';
import { changedFields, checkChange, fullData, type Needs } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

/** The event of each DID status a DID moves to. */
export const DID_STATUS_EVENTS: Readonly<Record<string, string>> = Object.freeze({
  in_stock: 'dids.stock',
  reserved: 'dids.reserve',
  active: 'dids.activate',
  blocked: 'dids.block',
  hold: 'dids.hold',
  archive: 'dids.archive',
});

const NEEDS: Readonly<Record<string, Needs>> = Object.freeze({ create: 'after', update: 'both' });

/**
 * DID changes (shape `did`), ops create | update.
 * - create → [dids.create] with data = after.
 * - update (before and after required) → in this fixed order, data = after for both:
 *   1. dids.update when any field other than status (and id) differs;
 *   2. the status event when status differs: in_stock → dids.stock, reserved → dids.reserve,
 *      active → dids.activate, blocked → dids.block, hold → dids.hold, archive → dids.archive
 *      (a status cleared to null has no status event).
 *   Nothing differs → [].
 */
export class DidAdapter implements SourceAdapter {
  readonly entity = 'did';
  readonly shape: EntityKind = 'did';
  readonly operations: readonly string[] = Object.freeze(['create', 'update']);
  readonly emits: readonly string[] = Object.freeze(['dids.create', 'dids.update', ...Object.values(DID_STATUS_EVENTS)]);

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, before, after } = checkChange(this, change, NEEDS);
    if (op === 'create') return [{ event: 'dids.create', objectId: id, data: fullData(after) }];

    const changed = changedFields(before!, after!).filter((k) => k !== 'id');
    const events: DerivedEvent[] = [];
    if (changed.some((k) => k !== 'status')) events.push({ event: 'dids.update', objectId: id, data: fullData(after) });
    const status = after!['status'];
    if (changed.includes('status') && typeof status === 'string' && Object.hasOwn(DID_STATUS_EVENTS, status)) {
      events.push({ event: DID_STATUS_EVENTS[status]!, objectId: id, data: fullData(after) });
    }
    return events;
  }
}
