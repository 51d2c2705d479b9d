import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { ResultSetHeader } from 'mysql2';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../config/app-config.js';
import { isDatabaseUnavailable } from '../database/database-errors.js';
import { DirectSql } from '../database/direct-sql.js';
import { GroupCommit } from '../database/group-commit.js';
import { ExecutionLogRecord } from '../execution-logs/execution-log.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { FailureStreak, failureStreakStatements } from '../handlers/failure-streak.js';
import { HandlersService } from '../handlers/handlers.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { OperationalEvents } from '../operational-events/operational-events.service.js';
import { DeliveryQueue } from '../queue/delivery-queue.js';
import { ClaimedDelivery, DeliveryUpdate, FinishedAttempt, NextClaimFlow } from '../queue/delivery.js';
import { FlowChange, FlowOutcome, ReportedStatement } from './circuit-outcomes.js';
import { FlowControl } from './flow-control.js';

/** Everything one attempt changes, as the runner decided it (src/dispatcher/delivery-runner.ts). */
export interface Outcome {
  log: ExecutionLogRecord;
  update: DeliveryUpdate;
  /** Start or end the handler's failure streak; absent leaves it alone. */
  streak?: FailureStreak;
  /** Set when the handler is to be disabled once the outcome is written (410 Gone, failing longer than AUTO_DISABLE_AFTER): the reason it keeps. */
  disableReason?: string;
  /** What the call says about the handler's flow: the circuit breaker's count, a probe's verdict, a Retry-After hold. */
  flow?: FlowOutcome;
}

/** A change of a handler's flow that an outcome made (the circuit opened or closed, a Retry-After hold). */
export interface FlowChangeReport {
  handlerId: number;
  change: FlowChange;
  reason: string | null;
  /** Held until then (flow time): the circuit's cool-down or the Retry-After. */
  until: number | null;
}

interface Recording {
  owner: string;
  delivery: ClaimedDelivery;
  outcome: Outcome;
  claimNext: boolean;
  /** What the claim of the next delivery respects (the dispatcher's view of held and full handlers). */
  nextFlow?: Omit<NextClaimFlow, 'flowNow'>;
}

/** The batch's claims of next deliveries respect every recording's view (one worker per app: usually one view). */
function mergeNextFlow(batch: readonly Recording[], flowNow: number): NextClaimFlow {
  const released = new Set<number>();
  const excluded = new Set<number>();
  for (const { nextFlow } of batch) {
    for (const id of nextFlow?.released ?? []) released.add(id);
    for (const id of nextFlow?.excluded ?? []) excluded.add(id);
  }
  return { released: [...released], excluded: [...excluded], flowNow };
}

/**
 * Writes the outcomes of attempts: for every attempt that ended meanwhile, in one transaction,
 * its execution log row, its handler's failure streak and, through the queue's finish-and-
 * claim-next step, the delivery's next state and the claim of the next delivery of its event.
 * Once written, each outcome is counted, logged in one line, and disables its handler when it
 * says so.
 *
 * On MySQL/MariaDB a write is two round trips (DirectSql.scriptTransaction) at READ COMMITTED,
 * so it takes no gap locks that would hold up ingest; two may be in progress at once.
 */
@Injectable()
export class OutcomeWriter implements OnApplicationShutdown {
  private readonly logger = new Logger('Dispatch');
  private readonly group: GroupCommit<Recording, ClaimedDelivery | null>;
  private readonly flowListeners = new Set<(report: FlowChangeReport) => void>();
  /** One log line per delivery outcome is written at `log` level; building it costs, so only when that level is on. */
  private readonly logOutcomes: boolean;
  private closed = false;

  constructor(
    private readonly sql: DirectSql,
    private readonly queue: DeliveryQueue,
    private readonly logs: ExecutionLogsService,
    private readonly handlers: HandlersService,
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
    private readonly flow: FlowControl,
    private readonly operational: OperationalEvents,
  ) {
    // SQLite writes block the process anyway; on MySQL a second write overlaps the first one's round trips.
    this.group = new GroupCommit((batch) => this.write(batch), 500, sql.mysql ? 2 : 1);
    this.logOutcomes = config.log.level !== 'error' && config.log.level !== 'warn';
  }

  /**
   * Records the outcome of `owner`'s attempt at `delivery`. With `claimNext`, when that attempt
   * held the order of its object (a first attempt), the next delivery of its event is claimed
   * for `owner` in the same transaction and answered; otherwise, or when none is due, null.
   *
   * While the database is unreachable the outcome is kept and written again, with back-off,
   * for as long as the delivery's lease lasts: the call is not repeated and its log row is not
   * lost. After that the lease has run out and the delivery is handed back (sent again).
   */
  async record(
    owner: string,
    delivery: ClaimedDelivery,
    outcome: Outcome,
    { claimNext = false, nextFlow }: { claimNext?: boolean; nextFlow?: Omit<NextClaimFlow, 'flowNow'> } = {},
  ): Promise<ClaimedDelivery | null> {
    const next = await this.submit({ owner, delivery, outcome, claimNext, nextFlow });
    this.report(delivery, outcome);
    if (outcome.update.status === 'failed') void this.operational.deliveryExhausted(delivery, outcome.log);
    if (outcome.disableReason !== undefined) await this.disable(outcome.log, outcome.disableReason);
    return next;
  }

  /** Calls `listener` with every change of a handler's flow an outcome made here (the dispatcher stops starting a held handler's calls). */
  onFlowChange(listener: (report: FlowChangeReport) => void): () => void {
    this.flowListeners.add(listener);
    return () => this.flowListeners.delete(listener);
  }

  onApplicationShutdown(): void {
    this.closed = true;
  }

  private async submit(recording: Recording): Promise<ClaimedDelivery | null> {
    const deadline = Date.now() + this.config.dispatch.leaseMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.group.submit(recording);
      } catch (error) {
        const delay = Math.min(250 * 2 ** attempt, 5000);
        if (this.closed || !isDatabaseUnavailable(error) || Date.now() + delay > deadline) throw error;
        await sleep(delay);
      }
    }
  }

  private async write(batch: Recording[]): Promise<(ClaimedDelivery | null)[]> {
    const now = Date.now();
    const leaseUntil = now + this.config.dispatch.leaseMs;
    const logs = batch.map((recording) => recording.outcome.log);
    const handlerStatements = this.handlerStatements(batch);
    const finished: FinishedAttempt[] = batch.map(({ owner, delivery, outcome, claimNext }) => ({ owner, delivery, update: outcome.update, claimNext }));
    const nextFlow = mergeNextFlow(batch, this.flow.now());
    const changed: ReportedStatement[] = [];

    let claimed: ClaimedDelivery[];
    if (this.sql.mysql) {
      // Two round trips: the log rows, the handlers' changes, the finish and the locking reads of
      // next deliveries; then their lease and their handlers' state, and COMMIT.
      const head = [this.logs.insertStatementMysql(logs), ...handlerStatements];
      const step = this.queue.finishAndClaimNextScriptMysql(finished, now, leaseUntil, nextFlow);
      const results = await this.sql.scriptTransaction([...head, ...step.first], { then: (first) => step.then(first.slice(head.length)) });
      // The handlers' statements answer right after the log rows' INSERT.
      const handlerResults = results.slice(1, head.length) as ResultSetHeader[];
      handlerStatements.forEach((statement, index) => {
        if (statement.change && handlerResults[index]!.affectedRows > 0) changed.push(statement);
      });
      claimed = step.claimed(results.slice(head.length));
    } else {
      claimed = await this.sql.transactionSqlite(() => {
        this.logs.insertSqlite(logs);
        for (const statement of handlerStatements) {
          const result = this.sql.statement(statement.sql).run(...statement.params);
          if (statement.change && result.changes > 0) changed.push(statement);
        }
        return this.queue.finishAndClaimNextSqlite(finished, now, leaseUntil, nextFlow);
      });
    }
    for (const statement of changed) this.reportFlowChange(statement, batch);

    // At most one next delivery per event is claimed (nextSelect in src/queue/claim-sql.ts), and each goes to the attempt that asked for it.
    const byEvent = new Map(claimed.map((delivery) => [delivery.eventId, delivery]));
    return batch.map(({ delivery, claimNext }) => {
      if (!claimNext || !delivery.holdsOrder) return null;
      const next = byEvent.get(delivery.eventId) ?? null;
      byEvent.delete(delivery.eventId);
      return next;
    });
  }

  /**
   * The batch's writes to `handlers`: the failure streaks and the flow statements (circuit,
   * Retry-After hold), handler by handler in id order, so two writes in progress never wait on
   * each other in a cycle.
   */
  private handlerStatements(batch: readonly Recording[]): ReportedStatement[] {
    const streaks = batch.flatMap((recording) => recording.outcome.streak ?? []);
    const flows = this.flow.outcomeStatements(batch.flatMap((recording) => recording.outcome.flow ?? []));
    const ids = [...new Set([...streaks.map((streak) => streak.handlerId), ...flows.map((statement) => statement.handlerId)])].sort((a, b) => a - b);
    return ids.flatMap((handlerId) => [
      ...failureStreakStatements(streaks.filter((streak) => streak.handlerId === handlerId)).map((statement) => ({ handlerId, ...statement })),
      ...flows.filter((statement) => statement.handlerId === handlerId),
    ]);
  }

  /**
   * A handler's circuit opened, re-opened or closed, or a Retry-After holds it: one log line
   * (the circuit's changes at `warn` and `log`), the listeners are told, and a circuit's change
   * is emitted as an operational event (a re-opening is a circuit_opened event too). The
   * delivery whose outcome made the change is the batch's last one of the handler: its event
   * type is `setOffBy`, so a circuit opened by failing operational deliveries emits nothing.
   */
  private reportFlowChange({ handlerId, change, reason, until }: ReportedStatement, batch: readonly Recording[]): void {
    const by = batch.findLast((recording) => recording.delivery.handlerId === handlerId);
    const subject = { id: handlerId, name: by?.outcome.log.handlerName ?? `handler ${handlerId}`, status: by?.delivery.handlerRow?.status ?? 'enabled' };
    const setOffBy = by?.delivery.eventType;
    if (change === 'circuit_opened' || change === 'circuit_reopened') {
      this.logger.warn(`Handler ${handlerId}: circuit ${change === 'circuit_opened' ? 'opened' : 're-opened'} until ${new Date(until!).toISOString()}: ${reason}`);
      void this.operational.handler('provisioning.handler.circuit_opened', subject, 'failures', reason ?? null, { until: until ?? null, setOffBy });
    } else if (change === 'circuit_closed') {
      this.logger.log(`Handler ${handlerId}: circuit closed: ${reason}`);
      void this.operational.handler('provisioning.handler.circuit_closed', subject, 'probe', reason ?? null, { setOffBy });
    }
    const report: FlowChangeReport = { handlerId, change: change!, reason: reason ?? null, until: until ?? null };
    for (const listener of this.flowListeners) listener(report);
  }

  /** Counts the outcome and writes its one log line; the handler's own answer and headers never go in it. */
  private report(delivery: ClaimedDelivery, { log, update }: Outcome): void {
    const outcome = update.status === 'pending' ? 'retry' : update.status;
    this.metrics.countDelivery(outcome, log.durationMs);
    if (update.status !== 'failed' && !this.logOutcomes) return;
    const fields = {
      delivery_id: delivery.id,
      event_id: delivery.eventId,
      event: delivery.eventType,
      object_id: delivery.objectId,
      handler_id: delivery.handlerId,
      attempt: log.attempt,
      outcome,
      response_code: log.responseCode,
      duration_ms: log.durationMs,
      error: log.error,
    };
    if (update.status === 'failed') this.logger.warn('delivery failed', fields);
    else this.logger.log(`delivery ${outcome}`, fields);
  }

  /** A failure here leaves the handler enabled (the next failure tries again) and does not lose the next delivery. */
  private async disable(log: ExecutionLogRecord, reason: string): Promise<void> {
    const { handlerId, handlerName } = log;
    try {
      if (await this.handlers.disableAutomatically(handlerId, reason)) {
        this.logger.warn(`Handler ${handlerId} "${handlerName}" disabled: ${reason}`);
        void this.operational.handlerDisabledByDispatch(log, reason);
      }
    } catch (error) {
      this.logger.error(`Could not disable handler ${handlerId}: ${(error as Error).message}`);
    }
  }
}
