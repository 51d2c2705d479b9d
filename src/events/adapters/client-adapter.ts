import type { EntityKind } from '../event-catalog.js';
import { changedData, changedFields, checkChange, CRUD_NEEDS, decimalFields, fullData, present, toDecimal } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

const DECIMALS = decimalFields('client');

/**
 * Client changes (shape `client`), ops create | update | delete.
 * - create → [clients.create] with data = after.
 * - delete → [clients.delete] with data {} (object id from before.id, else after.id).
 * - update (before and after required) → in this fixed order, each only when it applies:
 *   1. clients.update: data = {id, ...every changed field} (when a field other than id changed);
 *   2. clients.custom_fields.update: data = {id, custom_fields: after.custom_fields} (custom_fields differ, deeply);
 *   3. clients.balance_zero (data {}): before.balance > 0 and after.balance <= 0;
 *      clients.balance_notzero (data {}): before.balance <= 0 and after.balance > 0;
 *      balances are compared as numbers ("10.50" is 10.5) and only when both are present (not null);
 *   4. clients.archive (data {}): after.status is 'archive' and before.status is not.
 *   Nothing differs → [].
 */
export class ClientAdapter implements SourceAdapter {
  readonly entity = 'client';
  readonly shape: EntityKind = 'client';
  readonly operations: readonly string[] = Object.freeze(['create', 'update', 'delete']);
  readonly emits: readonly string[] = Object.freeze([
    'clients.create',
    'clients.update',
    'clients.custom_fields.update',
    'clients.balance_zero',
    'clients.balance_notzero',
    'clients.archive',
    'clients.delete',
  ]);

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, before, after } = checkChange(this, change, CRUD_NEEDS);
    if (op === 'create') return [{ event: 'clients.create', objectId: id, data: fullData(after) }];
    if (op === 'delete') return [{ event: 'clients.delete', objectId: id, data: {} }];

    const b = before!;
    const a = after!;
    const changed = changedFields(b, a, DECIMALS).filter((k) => k !== 'id');
    const events: DerivedEvent[] = [];
    if (changed.length > 0) events.push({ event: 'clients.update', objectId: id, data: changedData(id, a, changed) });
    if (changed.includes('custom_fields')) {
      events.push({ event: 'clients.custom_fields.update', objectId: id, data: { id, custom_fields: a['custom_fields'] } });
    }
    if (present(b, 'balance') && present(a, 'balance')) {
      const from = toDecimal(b['balance'])!;
      const to = toDecimal(a['balance'])!;
      if (from > 0 && to <= 0) events.push({ event: 'clients.balance_zero', objectId: id, data: {} });
      if (from <= 0 && to > 0) events.push({ event: 'clients.balance_notzero', objectId: id, data: {} });
    }
    if (a['status'] === 'archive' && b['status'] !== 'archive') {
      events.push({ event: 'clients.archive', objectId: id, data: {} });
    }
    return events;
  }
}
