import {
  closeCircuit,
  countFailures,
  countWindow,
  holdUntil,
  openCircuit,
  openCircuitByRate,
  reopenCircuit,
  resetFailures,
  Statement,
} from '../handlers/handler-flow.js';

/*
 * What the outcomes of attempts do to their handlers' flow, as statements for the outcome
 * writer's transaction (src/dispatcher/outcome-writer.ts, through FlowControl.outcomeStatements):
 * the circuit breaker's two rules, its probe and cool-downs, and Retry-After holds. The claim
 * side of flow control (shares, tokens, probes taken) is src/dispatcher/flow-control.ts.
 */

/** An attempt's lesson about its handler, for the outcome writer. */
export interface FlowOutcome {
  handlerId: number;
  ok: boolean;
  /** The circuit's probe call. */
  probe: boolean;
  /** The handler as the claim read it: a success writes only when there is something to reset. */
  failuresBefore: number;
  opensBefore: number;
  error: string | null;
  /** A Retry-After answer: hold the handler's deliveries until then (flow time). */
  holdUntil: number | null;
}

export type FlowChange = 'circuit_opened' | 'circuit_reopened' | 'circuit_closed' | 'held';

export interface ReportedStatement extends Statement {
  handlerId: number;
  /** What it means when it changed a row. */
  change?: FlowChange;
  reason?: string;
  /** Held (circuit opened, re-opened, Retry-After) until then. */
  until?: number;
}

/** The cool-down after the circuit opened `opens` times in a row: doubling from the first, up to the longest. */
export function cooldownMs(opens: number, first: number, longest: number): number {
  return Math.min(longest, first * 2 ** Math.max(0, Math.min(opens - 1, 30)));
}

/** The circuit breaker's rules (AppConfig.dispatch.circuit); the failure-rate rule is off unless `failureRate` is above 0. */
export interface CircuitRules {
  /** Failed calls in a row that open the circuit; 0: this rule is off. */
  failureThreshold: number;
  cooldownMs: number;
  cooldownMaxMs: number;
  /** The share of a window's calls that, failed, opens the circuit; 0 or absent: this rule is off. */
  failureRate?: number;
  rateWindowMs?: number;
  rateMinCalls?: number;
}

/**
 * The circuit statements for these outcomes (see FlowControl.outcomeStatements): per handler,
 * in the order the attempts ended, failures counted in runs (a run may open the circuit), a
 * failed probe re-opens it for a longer cool-down, a successful probe closes it, any success
 * ends the run; a Retry-After holds the handler. A success on a handler with nothing to reset
 * writes nothing.
 *
 * Only the probe closes an open circuit. A claim takes no other call of a handler whose circuit
 * is not closed, so any other call that ends while it is open was in flight when it opened (on
 * MySQL/MariaDB, a claim and the opening commit side by side): its success tells of the target
 * before the opening, and closing on it would end the cool-down the failures just began. Its
 * failure changes nothing either: the count in a row and the window count only while closed.
 *
 * With the failure-rate rule on, the calls of the batch (probes aside: they judge an open
 * circuit, not a closed one) are also counted in the handler's window, one statement per
 * handler, and a batch with a failure among them checks the rate: a batch of successes only
 * lowers it. Either rule may open the circuit; the first that does gives the reason, and the
 * other finds it no longer closed and changes nothing.
 */
export function flowOutcomeStatements(outcomes: readonly FlowOutcome[], now: number, circuit: CircuitRules): ReportedStatement[] {
  const byHandler = new Map<number, FlowOutcome[]>();
  for (const outcome of outcomes) {
    const list = byHandler.get(outcome.handlerId);
    if (list) list.push(outcome);
    else byHandler.set(outcome.handlerId, [outcome]);
  }
  const statements: ReportedStatement[] = [];
  const inARow = circuit.failureThreshold > 0;
  const rate = circuit.failureRate ?? 0;
  const byRate = rate > 0;
  const breaker = inARow || byRate;
  for (const handlerId of [...byHandler.keys()].sort((a, b) => a - b)) {
    let run = 0;
    let lastError: string | null = null;
    let failedHere = false;
    // The calls of the batch the window counts: those that ended after the circuit last closed in it.
    let windowCalls = 0;
    let windowFailures = 0;
    const endRun = () => {
      if (run === 0) return;
      statements.push({ handlerId, ...countFailures(handlerId, run) });
      const until = now + cooldownMs(1, circuit.cooldownMs, circuit.cooldownMaxMs);
      const reason = `${circuit.failureThreshold} failed calls in a row; the last: ${lastError ?? 'failed'}`;
      statements.push({ handlerId, ...openCircuit(handlerId, circuit.failureThreshold, now, until, reason), change: 'circuit_opened', reason, until });
      run = 0;
    };
    for (const outcome of byHandler.get(handlerId)!) {
      if (outcome.holdUntil !== null) {
        statements.push({ handlerId, ...holdUntil(handlerId, outcome.holdUntil), change: 'held', until: outcome.holdUntil, reason: 'Retry-After' });
      }
      if (!breaker) continue;
      if (outcome.ok) {
        endRun();
        if (outcome.probe) {
          const reason = 'the probe call succeeded';
          statements.push({ handlerId, ...closeCircuit(handlerId, now, reason), change: 'circuit_closed', reason });
          windowCalls = 0;
          windowFailures = 0;
        } else {
          windowCalls += 1;
        }
        if (inARow && (outcome.failuresBefore > 0 || failedHere)) statements.push({ handlerId, ...resetFailures(handlerId) });
        failedHere = false;
      } else if (outcome.probe) {
        endRun();
        if (inARow) statements.push({ handlerId, ...countFailures(handlerId, 1) });
        const until = now + cooldownMs(outcome.opensBefore + 1, circuit.cooldownMs, circuit.cooldownMaxMs);
        const reason = `the probe call failed: ${outcome.error ?? 'failed'}`;
        statements.push({ handlerId, ...reopenCircuit(handlerId, now, until, reason), change: 'circuit_reopened', reason, until });
        failedHere = true;
      } else {
        if (inARow) run += 1;
        lastError = outcome.error;
        failedHere = true;
        windowCalls += 1;
        windowFailures += 1;
      }
    }
    endRun();
    if (byRate && windowCalls > 0) {
      const windowMs = circuit.rateWindowMs ?? 60_000;
      const minCalls = circuit.rateMinCalls ?? 1;
      statements.push({ handlerId, ...countWindow(handlerId, windowCalls, windowFailures, now, windowMs) });
      if (windowFailures > 0) {
        const until = now + cooldownMs(1, circuit.cooldownMs, circuit.cooldownMaxMs);
        const reason = `at least ${percent(rate)} of ${minCalls}+ calls failed within ${durationText(windowMs)}; the last: ${lastError ?? 'failed'}`;
        const open = openCircuitByRate(handlerId, minCalls, Math.round(rate * 10_000), now, until, reason);
        statements.push({ handlerId, ...open, change: 'circuit_opened', reason, until });
      }
    }
  }
  return statements;
}

/** 0.5 as "50%", 0.125 as "12.5%". */
function percent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))}%`;
}

/** A window's length as the reason shows it: whole seconds when it is, else milliseconds. */
function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
