import type { EntityKind } from '../event-catalog.js';
import { checkChange, CRUD_NEEDS, deriveCrud } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

/**
 * Account changes (shape `account`), ops create | update | delete, one event each:
 * create → clients.accounts.create (data = after); update → clients.accounts.update
 * (data = {id, ...changed fields}; [] when nothing differs); delete → clients.accounts.delete (data {}).
 */
export class AccountAdapter implements SourceAdapter {
  readonly entity = 'account';
  readonly shape: EntityKind = 'account';
  readonly operations: readonly string[] = Object.freeze(['create', 'update', 'delete']);
  readonly emits: readonly string[] = Object.freeze([
    'clients.accounts.create',
    'clients.accounts.update',
    'clients.accounts.delete',
  ]);

  derive(change: EntityChange): DerivedEvent[] {
    return deriveCrud('clients.accounts', this.shape, checkChange(this, change, CRUD_NEEDS));
  }
}
