import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Clock } from '../common/clock.js';
import { DirectSql, Row } from '../database/direct-sql.js';
import { num } from '../database/sql.js';
import {
  HandlerFlow,
  lockFlow,
  readFlow,
  startProbe,
  Statement,
  takeTokens,
  toFlow,
  withLocked,
} from '../handlers/handler-flow.js';
import type { RatePeriod } from '../handlers/handler.entity.js';
import { flowOutcomeStatements, type FlowOutcome, type ReportedStatement } from './circuit-outcomes.js';
import { DeliveryQueue, planShares } from '../queue/delivery-queue.js';
import { ClaimedDelivery, ClaimShare, PendingHandler } from '../queue/delivery.js';

/**
 * Flow control per handler, applied where deliveries are claimed:
 *
 * - **Cap**: a worker makes at most `max_concurrency` (default HANDLER_MAX_CONCURRENCY, half of
 *   DISPATCH_CONCURRENCY) calls of one handler at once, and holds at most as many more of its
 *   deliveries claimed and waiting for a slot: a handler that hangs keeps no more than its cap
 *   of the call slots, and (by default) half of the waiting line. Per worker instance: it
 *   protects that worker's call slots, which are its own, and costs the database nothing; the
 *   target's protection across workers is the rate limit.
 * - **Rate limit**: `rate_limit` calls per second or minute across every worker sharing the
 *   database: a GCRA (theoretical arrival time in `handlers.rate_tat`) read, locked on
 *   MySQL/MariaDB, and advanced in the claim's transaction by the deliveries it took.
 * - **Pause** (manual, or a maintenance window) and **hold** (a Retry-After answer): nothing is
 *   claimed until it ends; the deliveries wait, and stop holding other handlers' order.
 * - **Circuit breaker**: opened by a run of failed calls (CIRCUIT_FAILURE_THRESHOLD in a row) or,
 *   when CIRCUIT_FAILURE_RATE is set, by a share of failed calls in a window; open, nothing is
 *   claimed (no attempt counted) until the cool-down ends; then one claim takes exactly one
 *   delivery, the probe, and marks the circuit half-open.
 *
 * A claim reads the handlers with pending deliveries (one index seek or two each), plans each
 * handler's share of the claim, and reads each share along its handler's own index range, so a
 * held or capped handler's backlog is never read.
 */
@Injectable()
export class FlowControl {
  /** MySQL/MariaDB: handler ids with pending deliveries, found now and then (deleted handlers among them), and when. */
  private discovered: number[] = [];
  private discoveredAt = 0;
  /**
   * Handlers whose share found nothing claimable although they had due deliveries (they all wait
   * for earlier deliveries of their objects, as the later handlers of a busy event do, whose
   * successor claims take them): until when the claims of this worker leave them out.
   */
  private readonly resting = new Map<number, number>();

  constructor(
    private readonly sql: DirectSql,
    private readonly queue: DeliveryQueue,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** The time flow control goes by (pauses, windows, cool-downs, rate limits). */
  now(): number {
    return this.clock.now();
  }

  /** A handler's cap when the claim read no setting of its own. */
  get defaultCap(): number {
    return this.config.dispatch.handlerMaxConcurrency;
  }

  /**
   * One claim round for `owner`: up to `limit` deliveries, each handler's share planned from
   * its flow and what this worker already holds of it.
   */
  async claim(owner: string, limit: number, holdings: WorkerHoldings, now: number, leaseUntil: number): Promise<ClaimRound> {
    const flowNow = this.clock.now();
    for (const [handlerId, until] of this.resting) if (until <= now) this.resting.delete(handlerId);
    const settings = this.settings();
    if (!this.sql.mysql) {
      // Not flushed (transactionSqlite): lost on power failure, its leases only send their deliveries
      // again, and the tokens or probe it took are taken again.
      return this.sql.transactionSqlite(() => {
        const pending = this.queue.pendingHandlersSqlite();
        const flows = this.readFlowsSqlite(flowIds(pending, holdings), flowNow);
        const plan = planClaim(pending, flows, holdings.held, limit, now, flowNow, settings);
        const claimed = this.queue.claimSharesSqlite(owner, plan.shares, plan.released, now, leaseUntil);
        for (const statement of afterClaim(plan, claimed, flowNow, this.probeDeadline(flowNow))) this.sql.statement(statement.sql).run(...statement.params);
        return this.rest(roundOf(plan, markProbes(claimed, plan), flows, settings), plan, now);
      }, { flush: false });
    }
    let plan: FlowPlan | undefined;
    let flows: Map<number, HandlerFlow> = new Map();
    if (now - this.discoveredAt >= DISCOVERY_INTERVAL_MS) {
      this.discovered = await this.queue.pendingHandlerIdsMysql();
      this.discoveredAt = now;
    }
    const ids = await this.queue.withDeadlockRetry(async (session) => {
      const read = await this.queue.pendingHandlersMysql(session, [...this.discovered, ...holdings.waiting], flowNow);
      const { pending } = read;
      flows = new Map(read.flows.map((row) => [num(row.id), toFlow(row)]));
      // Tokens and the probe are taken one worker at a time: lock those rows and read them again.
      const locking = [...flows.values()].filter((flow) => needsLock(flow, flowNow)).map((flow) => flow.handlerId);
      if (locking.length > 0) {
        const lock = lockFlow(locking);
        for (const row of await session.query(lock.sql, lock.params)) flows.set(num(row.id), withLocked(flows.get(num(row.id))!, row));
      }
      plan = planClaim(pending, flows, holdings.held, limit, now, flowNow, settings);
      const taken = await this.queue.claimSharesMysql(session, owner, plan.shares, plan.released, now, leaseUntil);
      for (const statement of afterClaim(plan, taken, flowNow, this.probeDeadline(flowNow))) await session.write(statement.sql, statement.params);
      return taken.map((delivery) => delivery.id);
    });
    return this.rest(roundOf(plan!, markProbes(await this.queue.claimed(ids), plan!), flows, settings), plan!, now);
  }

  /**
   * Handlers whose share came back empty rest for a poll interval (see `resting`): a handler
   * whose due deliveries all wait costs one look per poll interval, not one per claim.
   */
  private rest(round: ClaimRound, plan: FlowPlan, now: number): ClaimRound {
    const taken = new Set(round.claimed.map((delivery) => delivery.handlerId));
    for (const share of plan.shares) {
      if (!taken.has(share.handlerId) && !plan.probes.has(share.handlerId)) this.resting.set(share.handlerId, now + this.config.dispatch.pollIntervalMs);
    }
    return round;
  }

  private readFlowsSqlite(ids: readonly number[], flowNow: number): Map<number, HandlerFlow> {
    const flows = new Map<number, HandlerFlow>();
    if (ids.length === 0) return flows;
    const read = readFlow(ids, flowNow);
    for (const row of this.sql.statement(read.sql).all(...read.params) as Row[]) flows.set(num(row.id), toFlow(row));
    return flows;
  }

  /** A probe not answered by then is given up for lost (its worker died): the call's timeout is at most 300 s, the lease covers it. */
  private probeDeadline(flowNow: number): number {
    return flowNow + this.config.dispatch.leaseMs + 300_000;
  }

  private settings(): FlowSettings {
    return { defaultCap: this.defaultCap, resting: new Set(this.resting.keys()) };
  }

  /**
   * The statements that record what attempts taught about their handlers, in handler id order
   * (two writes in progress never wait on each other in a cycle), each with the change it makes
   * when it changes a row: the circuit opened, re-opened or closed, the handler held.
   */
  outcomeStatements(outcomes: readonly FlowOutcome[]): ReportedStatement[] {
    return flowOutcomeStatements(outcomes, this.clock.now(), this.config.dispatch.circuit);
  }
}

/** What a worker holds, for planning its claim. */
export interface WorkerHoldings {
  /** Deliveries this worker holds per handler: claimed and waiting, or in flight (at most twice the handler's cap). */
  held: ReadonlyMap<number, number>;
  /** Handlers of the deliveries waiting here: their flow is read even when nothing of theirs is pending. */
  waiting: readonly number[];
}

/** What one claim round took and learnt. */
export interface ClaimRound {
  claimed: ClaimedDelivery[];
  /** Handlers held now (paused, circuit not closed, Retry-After): deliveries of theirs waiting here go back unstarted. */
  held: ReadonlySet<number>;
  /** Held handlers with pending deliveries: those hold the order only among themselves (DeliveryQueue `claimable`). */
  released: number[];
  /** The cap of every handler whose flow was read. */
  caps: Map<number, number>;
  /** Some share was filled: another round may find more. */
  more: boolean;
  /** When a rate-limited handler with due deliveries may make its next call (flow time); null if none waits for that. */
  wakeAt: number | null;
}

interface FlowSettings {
  defaultCap: number;
  /** Handlers to leave out of this claim (their last share found nothing claimable), unless a probe is due. */
  resting?: ReadonlySet<number>;
}

interface RateTake {
  start: number;
  intervalMs: number;
  toleranceMs: number;
}

/**
 * How far ahead of the time the rate limiter lets a claim take calls: one interval, and no less
 * than this, so a fast limit is served by a claim every 100 ms rather than one per call. The
 * worker wakes when the next call is allowed (ClaimRound.wakeAt), so calls go out evenly, and
 * workers sharing the limit wake together and take turns.
 */
const RATE_TOLERANCE_MS = 100;

export interface FlowPlan {
  shares: ClaimShare[];
  /** Handlers whose share is the circuit's probe. */
  probes: Set<number>;
  released: number[];
  held: Set<number>;
  /** Rate-limited handlers: where their tokens start and how far each delivery moves them. */
  rates: Map<number, RateTake>;
  /** Rate-limited handlers with due deliveries and no call allowed now: when the next is. */
  waits: number[];
}

const PERIOD_MS: Record<RatePeriod, number> = { second: 1000, minute: 60_000 };

/**
 * MySQL/MariaDB: how often a worker looks for handler ids with pending deliveries beyond the
 * handlers table (deleted handlers: their deliveries are claimed to be skipped within this).
 */
const DISCOVERY_INTERVAL_MS = 1000;

/** Is the handler held at `flowNow`: paused, its circuit not closed, or a Retry-After not over. A pause holds whatever the status. */
export function isHeld(flow: HandlerFlow, flowNow: number): boolean {
  if (flow.paused) return true;
  if (flow.status !== 'enabled') return false;
  return flow.circuitState !== 'closed' || (flow.holdUntil !== null && flow.holdUntil > flowNow);
}

function probeDue(flow: HandlerFlow, flowNow: number): boolean {
  return flow.status === 'enabled' && !flow.paused && flow.circuitState !== 'closed' && (flow.circuitRetryAt ?? 0) <= flowNow && !(flow.holdUntil !== null && flow.holdUntil > flowNow);
}

function needsLock(flow: HandlerFlow, flowNow: number): boolean {
  return flow.status === 'enabled' && !flow.paused && (flow.rateLimit !== null || probeDue(flow, flowNow));
}

/**
 * GCRA: how many calls the limiter allows at `now` and where they start. Each call moves the
 * theoretical arrival time on by one interval; calls are allowed while it is no further ahead
 * of the time than `toleranceMs`. Over any span, no more than span ÷ interval calls plus the
 * tolerance's worth go out.
 */
export function rateTokens(tat: number | null, now: number, intervalMs: number, toleranceMs: number): { tokens: number; start: number } {
  const start = Math.max(tat ?? 0, now);
  if (start - now > toleranceMs) return { tokens: 0, start };
  return { tokens: Math.floor((now + toleranceMs - start) / intervalMs) + 1, start };
}

/**
 * The shares of one claim: for each handler with due deliveries, what twice its cap leaves (less
 * what this worker holds), its tokens, or its probe; nothing while it is paused, held or its circuit
 * open. `limit` goes round the handlers one at a time, longest-waiting first, so one handler's
 * backlog never fills the claim while others wait.
 */
export function planClaim(
  pending: readonly PendingHandler[],
  flows: ReadonlyMap<number, HandlerFlow>,
  holdings: ReadonlyMap<number, number>,
  limit: number,
  now: number,
  flowNow: number,
  settings: FlowSettings,
): FlowPlan {
  const held = new Set<number>();
  for (const flow of flows.values()) if (isHeld(flow, flowNow)) held.add(flow.handlerId);
  const released = pending.map((handler) => handler.handlerId).filter((id) => held.has(id));
  const probes = new Set<number>();
  const rates = new Map<number, RateTake>();
  const waits: number[] = [];
  const room = new Map<number, number>();
  for (const { handlerId, firstDueAt } of pending) {
    if (firstDueAt > now) continue;
    const flow = flows.get(handlerId);
    // Its cap of calls, and as many claimed and waiting for a slot.
    let free = 2 * (flow?.maxConcurrency ?? settings.defaultCap) - (holdings.get(handlerId) ?? 0);
    if (free <= 0 || flow?.paused) continue;
    if (settings.resting?.has(handlerId) && !(flow && probeDue(flow, flowNow))) continue;
    if (flow && flow.status === 'enabled') {
      if (flow.circuitState !== 'closed') {
        if (!probeDue(flow, flowNow)) continue;
        probes.add(handlerId);
        free = 1;
      } else if (flow.holdUntil !== null && flow.holdUntil > flowNow) continue;
      if (flow.rateLimit !== null && flow.rateLimit > 0) {
        const intervalMs = PERIOD_MS[flow.ratePeriod ?? 'second'] / flow.rateLimit;
        const toleranceMs = Math.max(intervalMs, RATE_TOLERANCE_MS);
        const { tokens, start } = rateTokens(flow.rateTat, flowNow, intervalMs, toleranceMs);
        if (tokens <= 0) {
          waits.push(start - toleranceMs);
          continue;
        }
        free = Math.min(free, tokens);
        rates.set(handlerId, { start, intervalMs, toleranceMs });
      }
    }
    room.set(handlerId, free);
  }
  // Probes first: each is one delivery, and a circuit waiting to close should not wait for a turn.
  const probeFirst = pending.map((handler) => (probes.has(handler.handlerId) ? { ...handler, firstDueAt: -Infinity } : handler)).filter((handler) => room.has(handler.handlerId));
  return { shares: planShares(probeFirst, limit, now, room), probes, released, held, rates, waits };
}

/** After the claim: the limiter moved on by what each rate-limited handler took, and half-open for each probe taken. */
function afterClaim(plan: FlowPlan, claimed: readonly { handlerId: number }[], flowNow: number, probeDeadline: number): Statement[] {
  const taken = new Map<number, number>();
  for (const delivery of claimed) taken.set(delivery.handlerId, (taken.get(delivery.handlerId) ?? 0) + 1);
  const statements: Statement[] = [];
  for (const handlerId of [...taken.keys()].sort((a, b) => a - b)) {
    const rate = plan.rates.get(handlerId);
    if (rate) statements.push(takeTokens(handlerId, Math.round(rate.start + taken.get(handlerId)! * rate.intervalMs)));
    if (plan.probes.has(handlerId)) statements.push(startProbe(handlerId, flowNow, probeDeadline));
  }
  return statements;
}

function markProbes(claimed: ClaimedDelivery[], plan: FlowPlan): ClaimedDelivery[] {
  for (const delivery of claimed) if (plan.probes.has(delivery.handlerId)) delivery.probe = true;
  return claimed;
}

function roundOf(plan: FlowPlan, claimed: ClaimedDelivery[], flows: ReadonlyMap<number, HandlerFlow>, settings: FlowSettings): ClaimRound {
  const caps = new Map<number, number>();
  for (const flow of flows.values()) caps.set(flow.handlerId, flow.maxConcurrency ?? settings.defaultCap);
  const taken = new Map<number, number>();
  for (const delivery of claimed) taken.set(delivery.handlerId, (taken.get(delivery.handlerId) ?? 0) + 1);
  const more = plan.shares.some((share) => !plan.probes.has(share.handlerId) && (taken.get(share.handlerId) ?? 0) >= share.limit);
  // After this claim, each rate-limited handler's next call is allowed once its arrival time is within the tolerance again.
  const waits = [...plan.waits];
  for (const [handlerId, rate] of plan.rates) {
    const calls = taken.get(handlerId) ?? 0;
    if (calls > 0) waits.push(rate.start + calls * rate.intervalMs - rate.toleranceMs);
  }
  return { claimed, held: plan.held, released: plan.released, caps, more, wakeAt: waits.length === 0 ? null : Math.min(...waits) };
}

function flowIds(pending: readonly PendingHandler[], holdings: WorkerHoldings): number[] {
  return [...new Set([...pending.map((handler) => handler.handlerId), ...holdings.waiting])];
}
