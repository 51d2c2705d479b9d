/**
 * Every kind of change the audit trail records, and the kind of record it changes (the row's
 * `target_type`). A new kind of change is one line here, plus the `record` call where the change
 * is made; GET /api/v1/audit and the console learn it from this list.
 */
export const AUDIT_ACTIONS = {
  'handler.create': 'handler',
  'handler.update': 'handler',
  'handler.archive': 'handler',
  'handler.toggle': 'handler',
  'handler.delete': 'handler',
  /** By the service itself: a 410 answer, or failing longer than AUTO_DISABLE_AFTER. */
  'handler.disable': 'handler',
  'handler.secret_reveal': 'handler',
  'handler.secret_rotate': 'handler',
  /** The handler's failed deliveries of a period queued again (POST /api/v1/handlers/{id}/deliveries/retry). */
  'handler.retry_failed': 'handler',
  /** A manual pause, set or changed (POST /api/v1/handlers/{id}/pause). */
  'handler.pause': 'handler',
  /** The pause in force ended by hand, a maintenance window in force cut short (POST …/resume). */
  'handler.resume': 'handler',
  'handler.window_add': 'handler',
  'handler.window_delete': 'handler',
  'delivery.retry': 'delivery',
  'api_key.create': 'api_key',
  'api_key.revoke': 'api_key',
  'cache.refresh': 'cache',
} as const;

export type AuditAction = keyof typeof AUDIT_ACTIONS;
export type AuditTargetType = (typeof AUDIT_ACTIONS)[AuditAction];

export const AUDIT_ACTION_NAMES = Object.keys(AUDIT_ACTIONS) as AuditAction[];
export const AUDIT_TARGET_TYPES = [...new Set(Object.values(AUDIT_ACTIONS))] as AuditTargetType[];

/** Who made a change: an API key, the keys command on the host, or the service on its own. */
export const AUDIT_ACTOR_TYPES = ['api_key', 'cli', 'system'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];
