import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config.js';
import { CacheManagerService } from '../cache-manager/cache-manager.service.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { ExecutionLogsService } from '../execution-logs/execution-logs.service.js';
import { findEvent } from '../events/event-catalog.js';
import { validateReplacementData } from '../events/entity-shapes.js';
import { envelopeJson } from '../events/envelope.js';
import { ValidEvent } from '../events/event-validation.js';
import { CallResult, failedAs, failedCall, unusableAnswer } from '../calls/call-result.js';
import { HttpExecutor } from '../calls/http-executor.js';
import { ScriptExecutor } from '../calls/script-executor.js';
import { DecisionCallDto, DecisionDto } from './dto/decision.dto.js';

type Verdict = { kind: 'allow' } | { kind: 'modify'; data: Record<string, unknown> } | { kind: 'forbid'; reason: string } | { kind: 'fail'; error: string };

/** Reads a before-handler's 2xx answer: {"allow": false, "reason"} forbids, {"data": {...}} replaces the data, anything else allows. */
export function readVerdict(body: string | null): Verdict {
  if (!body || body.trim() === '') return { kind: 'allow' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'allow' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { kind: 'allow' };
  const answer = parsed as { allow?: unknown; reason?: unknown; data?: unknown };
  if (answer.allow === false) {
    return { kind: 'forbid', reason: typeof answer.reason === 'string' && answer.reason !== '' ? answer.reason.slice(0, 1000) : 'forbidden by handler' };
  }
  if (answer.data !== undefined) {
    if (answer.data === null || typeof answer.data !== 'object' || Array.isArray(answer.data)) {
      return { kind: 'fail', error: 'answered "data" that is not a JSON object' };
    }
    return { kind: 'modify', data: answer.data as Record<string, unknown> };
  }
  return { kind: 'allow' };
}

/**
 * Runs the `before` handlers of an event synchronously, in priority order, within one time
 * budget. Each sees the data as changed by the ones before it; one that forbids stops the
 * chain; a failure or timeout counts as its on_failure choice. Nothing is queued or retried.
 */
@Injectable()
export class DecisionService {
  constructor(
    private readonly cache: CacheManagerService,
    private readonly http: HttpExecutor,
    private readonly scripts: ScriptExecutor,
    private readonly logs: ExecutionLogsService,
    private readonly config: AppConfig,
  ) {}

  async decide(event: ValidEvent): Promise<DecisionDto> {
    const started = Date.now();
    const deadline = started + this.config.decisions.budgetMs;
    const definition = findEvent(event.eventType)!;
    let data = JSON.parse(event.dataJson) as Record<string, unknown>;
    const calls: DecisionCallDto[] = [];
    // The last body whose text a log row of this chain keeps; the row of a handler sent the same body refers to that row instead of a copy.
    let stored: { body: string; logId: number } | null = null;

    for (const handler of this.cache.lookup(event.eventType, 'before')) {
      // A filter is matched against the envelope this handler would be sent: the data as the handlers before it left it.
      if (!this.cache.admits(handler, { event: { dt: event.dt, events_id: event.eventType, object_id: event.objectId }, data })) continue;
      const remaining = deadline - Date.now();
      const body = envelopeJson(event.eventType, event.objectId, event.dt, JSON.stringify(data));
      let result: CallResult;
      if (remaining <= 0) {
        result = failedCall('the decision budget was spent before this handler ran', 0, 'timeout');
      } else {
        const timeout = Math.min(handler.timeoutMs, remaining);
        result = await this.call(handler, body, event.eventType, timeout);
        if (result.timedOut && timeout < handler.timeoutMs) {
          result = failedAs(result, `cut by the decision budget (${this.config.decisions.budgetMs} ms) after ${timeout} ms`, 'timeout');
        }
      }

      let verdict: Verdict = result.ok ? readVerdict(result.responseBody) : { kind: 'fail', error: result.error ?? 'failed' };
      if (verdict.kind === 'modify') {
        const problems = validateReplacementData(definition, verdict.data, data, event.objectId);
        if (problems.length > 0) verdict = { kind: 'fail', error: `answered data of the wrong shape: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}` };
      }
      const failed = verdict.kind === 'fail';
      const logged = verdict.kind === 'fail' && result.ok ? unusableAnswer(result, verdict.error) : result;
      const sameAs = stored !== null && stored.body === body ? stored.logId : null;
      const logId = await this.logs.insert([
        {
          deliveryId: null,
          eventId: null,
          eventType: event.eventType,
          handlerId: handler.id,
          handlerName: handler.name,
          objectId: event.objectId,
          stage: 'before',
          attempt: 1,
          trigger: 'auto',
          status: failed ? 'fail' : 'success',
          requestPayload: sameAs === null ? body : { sameAsLog: sameAs },
          responseCode: result.responseCode,
          responseBody: result.responseBody,
          error: verdict.kind === 'fail' ? verdict.error : null,
          errorKind: failed ? logged.errorKind : null,
          durationMs: Math.max(0, Math.round(result.durationMs)),
          createdAt: Date.now(),
        },
      ]);
      if (sameAs === null) stored = { body, logId };
      const onFailure = handler.onFailure ?? 'forbid';
      calls.push({
        handler_id: handler.id,
        handler_name: handler.name,
        outcome: verdict.kind === 'fail' ? 'failed' : verdict.kind === 'modify' ? 'modified' : verdict.kind === 'forbid' ? 'forbidden' : 'allowed',
        counted_as: failed ? onFailure : null,
        response_code: result.responseCode,
        error: verdict.kind === 'fail' ? verdict.error : null,
        duration_ms: Math.round(result.durationMs),
        log_id: logId,
      });

      if (verdict.kind === 'modify') data = verdict.data;
      const forbidden = verdict.kind === 'forbid' || (verdict.kind === 'fail' && onFailure === 'forbid');
      if (forbidden) {
        const reason = verdict.kind === 'forbid' ? verdict.reason : `handler ${handler.id} failed (${verdict.kind === 'fail' ? verdict.error : ''}) and its on_failure is forbid`;
        return { allowed: false, data, reason, decided_by: { id: handler.id, name: handler.name }, calls, duration_ms: Date.now() - started };
      }
    }
    return { allowed: true, data, reason: null, decided_by: null, calls, duration_ms: Date.now() - started };
  }

  private call(handler: HandlerEntity, body: string, eventType: string, timeoutMs: number): Promise<CallResult> {
    if (handler.type === 'script') return this.scripts.run(handler, body, eventType, timeoutMs);
    return this.http.call(handler, body, `msg_decide_${randomBytes(8).toString('hex')}`, timeoutMs);
  }
}
