import { HandlerEntity } from './handler.entity.js';
import { HandlerDto } from './dto/handler.dto.js';
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

export function toHandlerDto(handler: HandlerEntity): HandlerDto {
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
    auth: authView(handler),
    client_certificate: certificateView(handler),
    created_at: new Date(handler.createdAt).toISOString(),
    updated_at: new Date(handler.updatedAt).toISOString(),
  };
}
