/** Table runners shared by the adapter unit tests (not a test file itself). */
import { it } from 'node:test';
import assert from 'node:assert/strict';

import { DomainError, type ErrorCode } from '../../../src/common/errors.js';
import { validateEntityData } from '../../../src/events/entity-shapes.js';
import { findEvent } from '../../../src/events/event-catalog.js';
import type { DerivedEvent, EntityChange, SourceAdapter } from '../../../src/events/adapters/source-adapter.js';

export interface DeriveCase {
  name: string;
  change: EntityChange;
  expected: DerivedEvent[];
}

export interface BadCase {
  name: string;
  change: unknown;
  code: ErrorCode;
  /** The field every detail must name (the first detail, plus `more` further ones). */
  field: string;
  more?: string[];
  /** A fragment the error message must contain. */
  message?: string | RegExp;
}

/** Asserts events are catalog events the adapter declares, and that their data fits the event's entity. */
export function assertWellFormed(adapter: SourceAdapter, events: readonly DerivedEvent[]): void {
  for (const e of events) {
    const def = findEvent(e.event);
    assert.ok(def, `${e.event} is a catalog event`);
    assert.ok(adapter.emits.includes(e.event), `${adapter.entity} declares ${e.event} in emits`);
    assert.equal(def.entity, adapter.shape);
    assert.ok(Number.isSafeInteger(e.objectId) && e.objectId > 0, 'objectId is a positive integer');
    assert.deepEqual(validateEntityData(def.entity, e.data), [], `${e.event} data fits ${def.entity}`);
  }
}

export function runDeriveCases(adapter: SourceAdapter, cases: readonly DeriveCase[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const input = structuredClone(c.change);
      const events = adapter.derive(input);
      assert.deepEqual(events, c.expected);
      assertWellFormed(adapter, events);
      assert.deepEqual(input, c.change, 'derive does not mutate the change');
      for (const e of events) {
        if (isObject(input.after)) assert.notEqual(e.data, input.after, 'data is a copy, not the input object');
      }
    });
  }
}

export function runBadCases(adapter: SourceAdapter, cases: readonly BadCase[]): void {
  for (const c of cases) {
    it(c.name, () => {
      let caught: unknown;
      try {
        adapter.derive(c.change as EntityChange);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof DomainError, `expected DomainError ${c.code}, got ${String(caught)}`);
      assert.equal(caught.code, c.code);
      assert.equal(caught.statusCode, 400);
      assert.deepEqual(
        caught.details.map((d) => d.field),
        [c.field, ...(c.more ?? [])],
      );
      for (const d of caught.details) assert.ok(d.message.length > 0);
      if (c.message !== undefined) assert.match(caught.message, typeof c.message === 'string' ? new RegExp(escape(c.message)) : c.message);
    });
  }
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
