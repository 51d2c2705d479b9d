/**
 * Domain errors with stable codes. Services throw these; the one global filter maps
 * each code to its HTTP status and the JSON body {statusCode, code, message, details}.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  JSON_TOO_DEEP: 400,
  MALFORMED_URL: 400,
  MALFORMED_REQUEST: 400,
  UNKNOWN_EVENT: 400,
  INVALID_TASK: 400,
  TARGET_FORBIDDEN: 400,
  SCRIPT_PATH_OUTSIDE: 400,
  SCRIPT_NOT_FOUND: 400,
  SCRIPT_NOT_EXECUTABLE: 400,
  SCRIPT_HANDLERS_DISABLED: 400,
  INVALID_TOKEN_URL: 400,
  INVALID_CLIENT_CERTIFICATE: 400,
  INVALID_CLIENT_KEY: 400,
  CLIENT_KEY_MISMATCH: 400,
  INVALID_CA_CERTIFICATE: 400,
  CLIENT_CERTIFICATE_NEEDS_HTTPS: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  SCOPE_FORBIDDEN: 403,
  EVENT_RESERVED: 403,
  HANDLER_NOT_FOUND: 404,
  MAINTENANCE_WINDOW_NOT_FOUND: 404,
  EXECUTION_LOG_NOT_FOUND: 404,
  EVENT_NOT_FOUND: 404,
  UNKNOWN_ENTITY: 404,
  DELIVERY_NOT_FOUND: 404,
  DELIVERY_NOT_RETRYABLE: 409,
  HANDLER_NOT_ENABLED: 409,
  DATA_INVALID: 400,
  INVALID_OPERATION: 400,
  IDEMPOTENCY_KEY_INVALID: 400,
  INVALID_CURSOR: 400,
  INVALID_PAUSE_TIME: 400,
  INVALID_FILTER: 400,
  EVENT_TYPE_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  HANDLER_ARCHIVED: 409,
  TOO_MANY_MAINTENANCE_WINDOWS: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  DATA_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
  DATABASE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  WORKER_ONLY: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One problem with one input field, as listed in `details`. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get statusCode(): number {
    return ERROR_STATUS[this.code];
  }

  static field(code: ErrorCode, field: string, message: string): DomainError {
    return new DomainError(code, message, [{ field, message }]);
  }
}
