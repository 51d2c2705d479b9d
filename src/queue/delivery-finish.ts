import { placeholders } from '../database/sql.js';
import type { ClaimedDelivery, DeliveryUpdate, FinishedAttempt } from './delivery.js';

/*
 * What an ended attempt writes to `deliveries`, as statements for the queue's finish-and-claim-
 * next step (src/queue/delivery-queue.ts, inside the outcome writer's transaction), and which
 * finished attempts ask for the next delivery of their event.
 */

/**
 * The statements that record how attempts ended, each only where the owner still holds the
 * lease. A delivery that succeeded leaves the queue: its row is deleted, and the success log row
 * the same transaction writes is its record from then on (the event detail and replays read it:
 * src/execution-logs/delivered-logs.ts). The queue keeps what is still to do and what an
 * operator may send again (failed, skipped): a finished delivery's row and its index entries
 * would otherwise stay, for nothing, until its event expired. Other endings UPDATE the row; a
 * finished one's next_attempt_at is the time of this write.
 *
 * Attempts that ended the same way for the same owner share one statement ('grouped': usually
 * one for a whole batch of successes); 'per-row' gives one statement of one text per delivery
 * (SQLite, where a prepared statement run per row is cheapest).
 */
export function finishStatements(finished: readonly FinishedAttempt[], now: number, shape: 'grouped' | 'per-row'): { sql: string; params: unknown[] }[] {
  const groups = new Map<string, FinishedAttempt[]>();
  for (const attempt of finished) {
    const key = attempt.update.status === 'succeeded' ? JSON.stringify([attempt.owner]) : JSON.stringify([attempt.owner, ...endColumns(attempt.update, now)]);
    const group = groups.get(key);
    if (group) group.push(attempt);
    else groups.set(key, [attempt]);
  }
  return [...groups.values()].flatMap((group) => {
    const ids = group.map((attempt) => attempt.delivery.id);
    const batches = shape === 'grouped' ? [ids] : ids.map((id) => [id]);
    const owner = group[0]!.owner;
    if (group[0]!.update.status === 'succeeded') {
      return batches.map((batch) => ({
        sql: `DELETE FROM deliveries WHERE lease_owner = ? AND status = 'in_progress' AND id IN ${placeholders(1, batch.length)}`,
        params: [owner, ...batch],
      }));
    }
    const values = [...endColumns(group[0]!.update, now), now, owner];
    return batches.map((batch) => ({
      sql: `UPDATE deliveries
               SET status = ?, attempts = attempts + ?, manual = ?, next_attempt_at = ?, last_response_code = ?, last_error = ?,
                   holds_order = 0, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
             WHERE lease_owner = ? AND status = 'in_progress' AND id IN ${placeholders(1, batch.length)}`,
      params: [...values, ...batch],
    }));
  });
}

/** The values of the finishing UPDATE that differ from one ended attempt to another. */
function endColumns(update: DeliveryUpdate, now: number): unknown[] {
  return [
    update.status,
    update.attempted ? 1 : 0,
    update.manual ? 1 : 0,
    update.status === 'pending' ? update.nextAttemptAt : now,
    update.responseCode,
    update.error === null ? null : update.error.slice(0, 500),
  ];
}

/** The finished attempts that held their object's order and ask for the next delivery, by owner. */
export function heldOrder(finished: readonly FinishedAttempt[]): Map<string, ClaimedDelivery[]> {
  const byOwner = new Map<string, ClaimedDelivery[]>();
  for (const { owner, delivery, claimNext } of finished) {
    if (!claimNext || !delivery.holdsOrder) continue;
    const list = byOwner.get(owner);
    if (list) list.push(delivery);
    else byOwner.set(owner, [delivery]);
  }
  return byOwner;
}
