/**
 * Event-source adapters: internal services post what changed to an entity, in CoreAPI
 * shape, and the adapter of that entity decides which catalog events (the vendor's event table) occurred.
 * Adapters are pure: no framework, no database, no clock. Shared validation lives in
 * change-helpers.ts.
 */
import type { EntityKind } from '../event-catalog.js';

/** One change to one entity, as posted by an internal service. */
export interface EntityChange {
  /** The operation, one of the adapter's `operations`. */
  op: string;
  /** The entity before the change (CoreAPI shape); required for updates. */
  before?: unknown;
  /** The entity after the change (CoreAPI shape); required for everything but delete. */
  after?: unknown;
}

/** One catalog event a change means: its ID, the entity ID (`event.object_id`) and the `data` payload. */
export interface DerivedEvent {
  event: string;
  objectId: number;
  data: Record<string, unknown>;
}

export interface SourceAdapter {
  /** URL name, e.g. 'rates-email'. */
  readonly entity: string;
  /** The entity-shapes kind it validates with. */
  readonly shape: EntityKind;
  /** The accepted values of `op`. */
  readonly operations: readonly string[];
  /** Every catalog event ID `derive` can return. */
  readonly emits: readonly string[];
  /**
   * Validates the change and returns the events it means, in a fixed documented order; [] when
   * nothing differs. Throws DomainError on bad input. Never mutates the change.
   */
  derive(change: EntityChange): DerivedEvent[];
}
