import type { EntityKind } from '../event-catalog.js';
import { checkChange, fullData, type Needs } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

const OPERATIONS = ['import', 'rate_tables_no_match', 'no_attachments', 'file_processing_error'] as const;
const NEEDS: Readonly<Record<string, Needs>> = Object.freeze(
  Object.fromEntries(OPERATIONS.map((op): [string, Needs] => [op, 'after'])),
);

/**
 * Email Rates Manager results (shape `rates_email`), ops import | rate_tables_no_match |
 * no_attachments | file_processing_error → [email_rates_manager.<op>] with data = after (after required).
 */
export class RatesEmailAdapter implements SourceAdapter {
  readonly entity = 'rates-email';
  readonly shape: EntityKind = 'rates_email';
  readonly operations: readonly string[] = Object.freeze([...OPERATIONS]);
  readonly emits: readonly string[] = Object.freeze(OPERATIONS.map((op) => `email_rates_manager.${op}`));

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, after } = checkChange(this, change, NEEDS);
    return [{ event: `email_rates_manager.${op}`, objectId: id, data: fullData(after) }];
  }
}
