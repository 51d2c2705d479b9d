import { parseRetryAfter } from '../dispatcher/retry-policy.js';
import { ForbiddenTargetError } from './outbound-lookup.js';

/**
 * What one call of a handler produced, whoever made it (a queued delivery, a `before`
 * decision, a test send) and however (HTTP or script). Built only by the functions below, so
 * a failure reads the same in every execution log row and log line.
 */
export interface CallResult {
  ok: boolean;
  /** The HTTP status, or the exit code of a script; null when nothing answered. */
  responseCode: number | null;
  /** The answer (or a script's stdout), up to RESPONSE_BODY_CAP_BYTES. */
  responseBody: string | null;
  error: string | null;
  durationMs: number;
  /** From Retry-After on a 429/503 answer. */
  retryAfterMs: number | null;
  /** The receiver answered 410 Gone: it wants no more calls. */
  gone: boolean;
  /** The call was cut at the timeout it was given. */
  timedOut: boolean;
}

export const ABANDONED = 'abandoned: the instance is shutting down';

/** The error of a call cut at its timeout. */
export function timeoutMessage(timeoutMs: number): string {
  return `timeout after ${timeoutMs} ms`;
}

/**
 * An HTTP answer: a 2xx is a success; a redirect is not followed and fails; a 410 says the
 * receiver wants no more calls; a 429 or 503 may say when to come back (`retryAfter`, the raw
 * header). The body is what was kept of the answer.
 */
export function answeredCall(status: number, body: string, retryAfter: string | undefined, durationMs: number): CallResult {
  const ok = status >= 200 && status < 300;
  let error: string | null = null;
  if (!ok) error = status >= 300 && status < 400 ? `redirect (${status}) not followed` : `receiver answered ${status}`;
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(retryAfter, Date.now()) : null;
  return { ok, responseCode: status, responseBody: body, error, durationMs, retryAfterMs, gone: status === 410, timedOut: false };
}

/**
 * A script's run: `error` null is a success (exit code 0). The exit code stands where an HTTP
 * answer has its status (null when it never exited), the output kept where the answer's body is.
 */
export function scriptCall(exitCode: number | null, output: string, error: string | null, durationMs: number, timedOut = false): CallResult {
  return { ok: error === null, responseCode: exitCode, responseBody: output, error, durationMs, retryAfterMs: null, gone: false, timedOut };
}

/**
 * A call that got no answer: not made (an invalid target, script handlers disabled, the
 * decision budget spent, a skipped delivery) or ended by the network before an answer.
 */
export function failedCall(error: string, durationMs = 0): CallResult {
  return { ok: false, responseCode: null, responseBody: null, error, durationMs, retryAfterMs: null, gone: false, timedOut: false };
}

/** An HTTP call cut at its timeout. */
export function timedOutCall(timeoutMs: number, durationMs: number): CallResult {
  return { ...failedCall(timeoutMessage(timeoutMs), durationMs), timedOut: true };
}

/** An HTTP call ended because the instance shuts down. */
export function abandonedCall(durationMs: number): CallResult {
  return failedCall(ABANDONED, durationMs);
}

/** A target whose literal address the outbound policy refuses: never dialled. */
export function refusedCall(address: string, reason: string, durationMs: number): CallResult {
  return failedCall(`${address} may not be called: ${reason}`, durationMs);
}

/** A call the network ended before an answer (refused, reset, DNS, TLS, or an address the policy refused at connect time). */
export function networkFailure(error: unknown, durationMs: number): CallResult {
  return failedCall(describeNetworkError(error), durationMs);
}

/**
 * A call not made because the handler could not authenticate to its target: no OAuth2 token
 * (the token endpoint refused, failed or could not be reached) or a token URL no longer
 * allowed. `reason` names no credential. Counted and retried like any failure; `timedOut`
 * when the call's timeout ran out while the token was being fetched.
 */
export function authFailedCall(reason: string, durationMs: number, timedOut = false): CallResult {
  return { ...failedCall(`authentication failed: ${reason}`, durationMs), timedOut };
}

/** The same call counted as a failure for `error`, which replaces its own (what it answered stays). */
export function failedAs(result: CallResult, error: string): CallResult {
  return { ...result, ok: false, error };
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the receiver',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate is self-signed',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
};

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof ForbiddenTargetError) return cause.message;
  if (error instanceof ForbiddenTargetError) return error.message;
  const code = (error as { code?: string })?.code;
  if (code && NETWORK_ERRORS[code]) return NETWORK_ERRORS[code]!;
  const message = (error as Error)?.message ?? String(error);
  if (/TARGET_FORBIDDEN|may not call/.test(message)) return message;
  return code ? `${code}: ${message}` : message;
}
