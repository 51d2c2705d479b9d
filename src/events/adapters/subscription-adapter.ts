import type { EntityKind } from '../event-catalog.js';
import { changedFields, checkChange, fullData, type Needs } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

const OWN_OPERATIONS = ['assign', 'activate', 'deactivate', 'renew', 'close'] as const;

const NEEDS: Readonly<Record<string, Needs>> = Object.freeze({
  ...Object.fromEntries(OWN_OPERATIONS.map((op): [string, Needs] => [op, 'after'])),
  update: 'both',
});

/**
 * Subscription changes (shape `subscription`).
 * - assign | activate | deactivate | renew | close: the subscription's own operations, reported
 *   as such → [clients.subscriptions.<op>] with data = after (after required).
 * - update (before and after required): at most one event, from the status change alone:
 *   any status other than active → active gives activate; active → pending gives deactivate;
 *   anything → archive gives close. Every other change (other fields, or another status move
 *   such as archive → pending) has no catalog event and gives []; so does no change at all.
 *   Data = after.
 */
export class SubscriptionAdapter implements SourceAdapter {
  readonly entity = 'subscription';
  readonly shape: EntityKind = 'subscription';
  readonly operations: readonly string[] = Object.freeze([...OWN_OPERATIONS, 'update']);
  readonly emits: readonly string[] = Object.freeze(OWN_OPERATIONS.map((op) => `clients.subscriptions.${op}`));

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, before, after } = checkChange(this, change, NEEDS);
    if (op !== 'update') return [{ event: `clients.subscriptions.${op}`, objectId: id, data: fullData(after) }];

    if (!changedFields(before!, after!).includes('status')) return [];
    const from = before!['status'];
    const to = after!['status'];
    let event: string | undefined;
    if (to === 'active') event = 'clients.subscriptions.activate';
    else if (to === 'pending' && from === 'active') event = 'clients.subscriptions.deactivate';
    else if (to === 'archive') event = 'clients.subscriptions.close';
    return event === undefined ? [] : [{ event, objectId: id, data: fullData(after) }];
  }
}
