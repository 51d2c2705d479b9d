import { DomainError } from '../../common/errors.js';
import type { EntityKind } from '../event-catalog.js';
import { checkChange, CRUD_NEEDS, deriveCrud, present } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

export type TransactionKind = 'charge' | 'payment';

/**
 * Charge or payment changes (shape `transaction`), ops create | update | delete, one event each:
 * create → accounting.<kind>s.create (data = after); update → accounting.<kind>s.update
 * (data = {id, ...changed fields}; [] when nothing differs); delete → accounting.<kind>s.delete (data {}).
 * A `type` sent in after (or before) must be the adapter's kind (DATA_INVALID, field after.type / before.type).
 */
export class TransactionAdapter implements SourceAdapter {
  readonly entity: TransactionKind;
  readonly shape: EntityKind = 'transaction';
  readonly operations: readonly string[] = Object.freeze(['create', 'update', 'delete']);
  readonly emits: readonly string[];
  private readonly prefix: string;

  constructor(readonly kind: TransactionKind) {
    this.entity = kind;
    this.prefix = `accounting.${kind}s`;
    this.emits = Object.freeze(['create', 'update', 'delete'].map((op) => `${this.prefix}.${op}`));
  }

  derive(change: EntityChange): DerivedEvent[] {
    const checked = checkChange(this, change, CRUD_NEEDS);
    for (const [side, value] of [['after', checked.after], ['before', checked.before]] as const) {
      if (present(value, 'type') && value!['type'] !== this.kind) {
        throw DomainError.field('DATA_INVALID', `${side}.type`, `${side}.type must be '${this.kind}' for a ${this.kind}`);
      }
    }
    return deriveCrud(this.prefix, this.shape, checked);
  }
}
