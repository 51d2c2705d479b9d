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
  /** What kind of failure `error` is, for the execution logs' exact filter; null on success. */
  errorKind: ErrorKind | null;
  durationMs: number;
  /** From Retry-After on a 429/503 answer. */
  retryAfterMs: number | null;
  /** The receiver answered 410 Gone: it wants no more calls. */
  gone: boolean;
  /** The call was cut at the timeout it was given. */
  timedOut: boolean;
}

/**
 * The normalised kinds of a failed call, stored with each execution log row (`error_kind`) so
 * failures of one kind are found through an index, not by searching the error text. Set only by
 * the builders below; docs/errors.md lists them.
 */
export const ERROR_KINDS = [
  'timeout',
  'connection_refused',
  'network',
  'dns',
  'tls',
  'http_4xx',
  'http_5xx',
  'redirect',
  'script_exit',
  'policy_refused',
  'auth',
  'bad_answer',
  'skipped',
  'abandoned',
  'other',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

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
  return { ok, responseCode: status, responseBody: body, error, errorKind: ok ? null : statusKind(status), durationMs, retryAfterMs, gone: status === 410, timedOut: false };
}

function statusKind(status: number): ErrorKind {
  if (status >= 300 && status < 400) return 'redirect';
  if (status >= 400 && status < 500) return 'http_4xx';
  if (status >= 500 && status < 600) return 'http_5xx';
  return 'other';
}

/**
 * A script's run: `error` null is a success (exit code 0). The exit code stands where an HTTP
 * answer has its status (null when it never exited), the output kept where the answer's body is.
 */
export function scriptCall(exitCode: number | null, output: string, error: string | null, durationMs: number, timedOut = false): CallResult {
  const errorKind: ErrorKind | null = error === null ? null : timedOut ? 'timeout' : error === ABANDONED ? 'abandoned' : 'script_exit';
  return { ok: error === null, responseCode: exitCode, responseBody: output, error, errorKind, durationMs, retryAfterMs: null, gone: false, timedOut };
}

/**
 * A call that got no answer: not made (an invalid target, the decision budget spent) or ended
 * before an answer, of the kind given.
 */
export function failedCall(error: string, durationMs = 0, errorKind: ErrorKind = 'other'): CallResult {
  return { ok: false, responseCode: null, responseBody: null, error, errorKind, durationMs, retryAfterMs: null, gone: false, timedOut: false };
}

/** A call the service's own rules forbid (script handlers disabled, a script path outside SCRIPTS_DIR): never made. */
export function forbiddenCall(error: string, durationMs = 0): CallResult {
  return failedCall(error, durationMs, 'policy_refused');
}

/** A delivery not attempted because its handler is disabled, archived or deleted. */
export function skippedCall(why: string): CallResult {
  return failedCall(why, 0, 'skipped');
}

/** An HTTP call cut at its timeout. */
export function timedOutCall(timeoutMs: number, durationMs: number): CallResult {
  return { ...failedCall(timeoutMessage(timeoutMs), durationMs, 'timeout'), timedOut: true };
}

/** A call not started, or started and ended, because the instance shuts down. */
export function abandonedCall(durationMs: number): CallResult {
  return failedCall(ABANDONED, durationMs, 'abandoned');
}

/** A target whose literal address the outbound policy refuses: never dialled. */
export function refusedCall(address: string, reason: string, durationMs: number): CallResult {
  return failedCall(`${address} may not be called: ${reason}`, durationMs, 'policy_refused');
}

/** A call the network ended before an answer (refused, reset, DNS, TLS, or an address the policy refused at connect time). */
export function networkFailure(error: unknown, durationMs: number): CallResult {
  return failedCall(describeNetworkError(error), durationMs, networkErrorKind(error));
}

/**
 * A call not made because the handler could not authenticate to its target: no OAuth2 token
 * (the token endpoint refused, failed or could not be reached) or a token URL no longer
 * allowed. `reason` names no credential. Counted and retried like any failure; `timedOut`
 * when the call's timeout ran out while the token was being fetched.
 */
export function authFailedCall(reason: string, durationMs: number, timedOut = false): CallResult {
  return { ...failedCall(`authentication failed: ${reason}`, durationMs, timedOut ? 'timeout' : 'auth'), timedOut };
}

/** A `before` handler's 2xx answer that cannot be used (data of the wrong shape): the call counts as failed. */
export function unusableAnswer(result: CallResult, error: string): CallResult {
  return failedAs(result, error, 'bad_answer');
}

/** The same call counted as a failure of `errorKind` for `error`, which replace its own (what it answered stays). */
export function failedAs(result: CallResult, error: string, errorKind: ErrorKind): CallResult {
  return { ...result, ok: false, error, errorKind };
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

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_(GET|VERIFY)_)/;
const DNS_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA', 'ESERVFAIL', 'ENOTIMP', 'EREFUSED', 'EBADRESP']);
const CONNECTION_ERRORS = new Set(['ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
/** The system's or undici's own time limits, met before the handler's timeout. */
const TIMEOUT_ERRORS = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function networkErrorKind(error: unknown): ErrorKind {
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof ForbiddenTargetError || error instanceof ForbiddenTargetError) return 'policy_refused';
  const code = (error as { code?: string })?.code ?? (cause as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'TARGET_FORBIDDEN') return 'policy_refused';
  if (code !== undefined && DNS_ERRORS.has(code)) return 'dns';
  if (code !== undefined && TLS_ERROR.test(code)) return 'tls';
  if (code !== undefined && CONNECTION_ERRORS.has(code)) return 'network';
  if (code !== undefined && TIMEOUT_ERRORS.has(code)) return 'timeout';
  if (/TARGET_FORBIDDEN|may not call/.test((error as Error)?.message ?? '')) return 'policy_refused';
  return 'other';
}

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
