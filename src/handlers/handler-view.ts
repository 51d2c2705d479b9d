import { HandlerEntity } from './handler.entity.js';
import { HandlerDto, HandlerPausedDto, MaintenanceWindowDto } from './dto/handler.dto.js';
import { HandlerPauseEntity } from './handler-pause.entity.js';
import { parseHttpTask } from './handler-target.js';
import { authView, certificateView } from './handler-credentials.js';

/** Header names whose values are credentials: answers show them masked. */
const SENSITIVE_HEADER = /(authorization|cookie|token|secret|password|passwd|api[-_]?key|signature|session|auth)/i;
export const MASK = '********';

export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  const masked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) masked[name] = SENSITIVE_HEADER.test(name) ? MASK : value;
  return masked;
}

const iso = (time: number | null): string | null => (time === null ? null : new Date(time).toISOString());

/** The pause in force at `now`, from the handler's pause rows: since the earliest, until the latest end (null: until resumed). */
export function pausedAt(pauses: readonly HandlerPauseEntity[], now: number): HandlerPausedDto | null {
  const active = pauses.filter((pause) => pause.startsAt <= now && (pause.endsAt === null || pause.endsAt > now)).sort((a, b) => a.startsAt - b.startsAt);
  if (active.length === 0) return null;
  const first = active.find((pause) => pause.kind === 'manual') ?? active[0]!;
  const open = active.some((pause) => pause.endsAt === null);
  return {
    since: iso(active[0]!.startsAt)!,
    until: open ? null : iso(Math.max(...active.map((pause) => pause.endsAt!))),
    reason: first.reason,
    kind: first.kind,
  };
}

/** The maintenance windows not over at `now`, earliest first. */
export function windowsAt(pauses: readonly HandlerPauseEntity[], now: number): MaintenanceWindowDto[] {
  return pauses
    .filter((pause) => pause.kind === 'window' && pause.endsAt !== null && pause.endsAt > now)
    .sort((a, b) => a.startsAt - b.startsAt || a.id - b.id)
    .map((pause) => ({ id: pause.id, from: iso(pause.startsAt)!, to: iso(pause.endsAt)!, reason: pause.reason }));
}

/** The handler as the API shows it; `pauses` are its rows of handler_pauses, judged at `now` (the flow clock). */
export function toHandlerDto(handler: HandlerEntity, pauses: readonly HandlerPauseEntity[] = [], now = Date.now()): HandlerDto {
  let target: string | null = null;
  if (handler.type !== 'script') {
    try {
      target = parseHttpTask(handler.type, handler.task).toString();
    } catch {
      target = null;
    }
  }
  return {
    id: handler.id,
    name: handler.name,
    event: handler.event,
    type: handler.type,
    task: handler.task,
    target_url: target,
    status: handler.status,
    priority: handler.priority,
    stage: handler.stage,
    timeout_ms: handler.timeoutMs,
    retry_limit: handler.retryLimit,
    headers: maskHeaders(handler.headers ?? {}),
    on_failure: handler.onFailure,
    filter: handler.filter,
    disabled_reason: handler.disabledReason,
    max_concurrency: handler.maxConcurrency ?? null,
    rate_limit: handler.rateLimit ?? null,
    rate_period: handler.ratePeriod ?? 'second',
    paused: pausedAt(pauses, now),
    maintenance_windows: windowsAt(pauses, now),
    circuit: {
      state: handler.circuitState ?? 'closed',
      since: iso(handler.circuitSince ?? null),
      reason: handler.circuitReason ?? null,
      retry_at: handler.circuitState === 'open' ? iso(handler.circuitRetryAt ?? null) : null,
    },
    auth: authView(handler),
    client_certificate: certificateView(handler),
    created_at: new Date(handler.createdAt).toISOString(),
    updated_at: new Date(handler.updatedAt).toISOString(),
  };
}
