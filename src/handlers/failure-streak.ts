/**
 * The handler's failure streak (`handlers.failing_since`, which drives automatic disabling),
 * as statements for the transaction that records a delivery's outcome
 * (src/dispatcher/outcome-writer.ts). The streak makes no change-feed row: the dispatcher
 * takes status and streak from the row a claim reads.
 */
export interface FailureStreak {
  handlerId: number;
  /** Start the streak at this time (kept if one is already running), or end it (null). */
  failingSince: number | null;
}

const END_STREAK = 'UPDATE handlers SET failing_since = NULL WHERE id = ?';
const START_STREAK = 'UPDATE handlers SET failing_since = ? WHERE id = ? AND failing_since IS NULL';

/** The UPDATEs for these streak changes, in handler id order, so that two writes in progress never wait on each other in a cycle. */
export function failureStreakStatements(streaks: readonly FailureStreak[]): { sql: string; params: unknown[] }[] {
  return [...streaks]
    .sort((a, b) => a.handlerId - b.handlerId)
    .map((streak) =>
      streak.failingSince === null ? { sql: END_STREAK, params: [streak.handlerId] } : { sql: START_STREAK, params: [streak.failingSince, streak.handlerId] },
    );
}
