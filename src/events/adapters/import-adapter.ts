import type { EntityKind } from '../event-catalog.js';
import { checkChange, fullData, type Needs } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

const OPERATIONS = ['process_success', 'process_failed'] as const;
const NEEDS: Readonly<Record<string, Needs>> = Object.freeze(
  Object.fromEntries(OPERATIONS.map((op): [string, Needs] => [op, 'after'])),
);

/**
 * Import Manager jobs (shape `import_job`), ops process_success | process_failed: the outcome of
 * an import attempt → [importd.<op>] with data = after (after required).
 */
export class ImportAdapter implements SourceAdapter {
  readonly entity = 'import';
  readonly shape: EntityKind = 'import_job';
  readonly operations: readonly string[] = Object.freeze([...OPERATIONS]);
  readonly emits: readonly string[] = Object.freeze(OPERATIONS.map((op) => `importd.${op}`));

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, after } = checkChange(this, change, NEEDS);
    return [{ event: `importd.${op}`, objectId: id, data: fullData(after) }];
  }
}
