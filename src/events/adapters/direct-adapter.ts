import type { EntityKind } from '../event-catalog.js';
import { checkChange, fullData, type Needs } from './change-helpers.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from './source-adapter.js';

/**
 * An entity whose operations are its events, one to one: op X gives `<prefix>.X` with
 * data = after (after required). Import jobs and rate emails work this way.
 */
export class DirectAdapter implements SourceAdapter {
  readonly operations: readonly string[];
  readonly emits: readonly string[];
  private readonly needs: Readonly<Record<string, Needs>>;

  constructor(
    readonly entity: string,
    readonly shape: EntityKind,
    private readonly prefix: string,
    operations: readonly string[],
  ) {
    this.operations = Object.freeze([...operations]);
    this.emits = Object.freeze(operations.map((op) => `${prefix}.${op}`));
    this.needs = Object.freeze(Object.fromEntries(operations.map((op): [string, Needs] => [op, 'after'])));
  }

  derive(change: EntityChange): DerivedEvent[] {
    const { op, id, after } = checkChange(this, change, this.needs);
    return [{ event: `${this.prefix}.${op}`, objectId: id, data: fullData(after) }];
  }
}
