import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataSource } from 'typeorm';
import { IngestService } from '../../src/events/ingest.service.js';
import { HandlersService } from '../../src/handlers/handlers.service.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { RuntimeGauges } from '../../src/metrics/runtime-gauges.js';
import type { Principal } from '../../src/api-keys/auth.decorators.js';
import { handlerBody } from '../factories/handler.factory.js';
import { eventBody } from '../factories/event.factory.js';
import { eventually } from '../utils/receiver.js';
import { forEachDatabaseModule } from '../utils/service-suite.js';

/**
 * The queue gauges on a queue deeper than a scrape counts: each state is counted exactly up
 * to a limit at every scrape; a state past it shows the figure of a background count, walked a
 * slice at a time, and how old that figure is. The limits are lowered so that a few hundred
 * deliveries make a deep queue (a slice of 40 index entries, ties of next_attempt_at included).
 */
const admin: Principal = { keyId: 0, name: 'service tier', scopes: new Set(['admin']) };

forEachDatabaseModule('queue gauges on a deep queue', {}, (s) => {
  const sql = (text: string, params: unknown[] = []) => s.get(DataSource).query(text, params);
  /** The samples of one scrape: `provisioning_queue_depth{state="due"}` → value. */
  const scrape = async (): Promise<Map<string, number>> => {
    // The gauges share one read of the queue per scrape, until the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const text = await s.get(MetricsService).registry.metrics();
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      const match = /^(provisioning_queue_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
      if (match) samples.set(match[1]!, Number(match[2]));
    }
    return samples;
  };
  const depth = (samples: Map<string, number>, state: string) => samples.get(`provisioning_queue_depth{state="${state}"}`);
  const age = (samples: Map<string, number>, state: string) => samples.get(`provisioning_queue_depth_age_seconds{state="${state}"}`);

  before(async () => {
    await s.get(HandlersService).create(handlerBody({ name: 'deep', event: 'clients.update', task: '127.0.0.1:9/x' }) as never, admin);
    const ingest = s.get(IngestService);
    for (let start = 0; start < 400; start += 200) {
      await ingest.acceptBatch(Array.from({ length: 200 }, (_, i) => eventBody({ object_id: 1000 + start + i })), null);
    }
  });

  it('count each state exactly up to the limit; past it, show a background count, its age, and a fresh one later', async () => {
    const gauges = s.get(RuntimeGauges);
    gauges.queueCountLimits = { exactUpTo: 50, sliceSize: 40, minIntervalMs: 3_600_000 };
    const now = Date.now();
    const ids: number[] = (await sql('SELECT id FROM deliveries ORDER BY id')).map((row: { id: number }) => Number(row.id));
    assert.equal(ids.length, 400);
    // 30 due (exact), 250 scheduled for one later instant (ties), 117 failed, 3 in flight.
    const [due, scheduled, failed, inFlight] = [ids.slice(0, 30), ids.slice(30, 280), ids.slice(280, 397), ids.slice(397)];
    const set = (list: number[], assignments: string, params: unknown[]) => sql(`UPDATE deliveries SET ${assignments} WHERE id IN (${list.join(', ')})`, params);
    await set(due, 'next_attempt_at = ?', [now - 5000]);
    await set(scheduled, 'next_attempt_at = ?, holds_order = 0', [now + 3_600_000]);
    await set(failed, "status = 'failed', holds_order = 0", []);
    await set(inFlight, "status = 'in_progress', lease_owner = 'w', lease_expires_at = ?", [now + 60_000]);

    const first = await scrape();
    assert.deepEqual([depth(first, 'due'), depth(first, 'in_flight')], [30, 3], 'under the limit: exact');
    assert.deepEqual([age(first, 'due'), age(first, 'in_flight')], [0, 0], 'counted at this scrape');
    assert.equal(depth(first, 'scheduled'), 51, 'past the limit, before any background count: more than 50');
    assert.ok(Number.isNaN(age(first, 'scheduled')), 'no background count yet');
    assert.ok(first.get('provisioning_queue_oldest_due_age_seconds')! >= 5, 'the oldest due age is read at each scrape');

    const counted = await eventually(async () => {
      const samples = await scrape();
      return Number.isNaN(age(samples, 'scheduled')) || Number.isNaN(age(samples, 'failed')) ? undefined : samples;
    });
    assert.deepEqual([depth(counted, 'scheduled'), depth(counted, 'failed')], [250, 117], 'the walks counted exactly, slice after slice');
    assert.ok(age(counted, 'scheduled')! >= 0 && age(counted, 'scheduled')! < 30);

    // More scheduled deliveries: the figure stays that of the last count (its age grows) until
    // the state is due for another walk; then the new count shows.
    await set(due.slice(0, 20), 'next_attempt_at = ?, holds_order = 0', [now + 3_600_000]);
    const stale = await scrape();
    assert.equal(depth(stale, 'scheduled'), 250, 'no new walk within minIntervalMs');
    assert.equal(depth(stale, 'due'), 10, 'small states stay exact at every scrape');
    gauges.queueCountLimits = { ...gauges.queueCountLimits, minIntervalMs: 0 };
    const fresh = await eventually(async () => {
      const samples = await scrape();
      return depth(samples, 'scheduled') === 270 ? samples : undefined;
    });
    assert.equal(depth(fresh, 'failed'), 117);
  });
});
