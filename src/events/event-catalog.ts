/**
 * The Provisioning API event catalog: the vendor's event table (EVENT_CATALOG, the events the
 * billing platform posts, `data` in CoreAPI shape) and the service's own operational events
 * (OPERATIONAL_EVENTS, `provisioning.*`: emitted by src/operational-events/, never posted from
 * outside). Every event ID a handler can subscribe to, with its display group, a one-sentence
 * description and a sample `data` payload. Pure data and small helpers; no framework imports.
 */

export type EntityKind =
  | 'client'
  | 'account'
  | 'subscription'
  | 'did'
  | 'transaction'
  | 'import_job'
  | 'rates_email'
  // The service's own entities, the subjects of its operational events (never a CoreAPI entity).
  | 'handler'
  | 'delivery';

export interface EventDefinition {
  readonly id: string;
  readonly group: string;
  readonly description: string;
  readonly entity: EntityKind;
  readonly sampleObjectId: number;
  readonly sampleData: Readonly<Record<string, unknown>>;
}

export interface EventEnvelope {
  event: { dt: string; events_id: string; object_id: number };
  data: Record<string, unknown>;
}

/** Default `event.dt` of sample envelopes (ISO 8601 with offset). */
const SAMPLE_EVENT_DT = '2026-11-22T10:15:30+00:00';

/** Display groups, in the vendor's event table order. */
export const EVENT_GROUPS: readonly string[] = Object.freeze([
  'Clients',
  'Accounts',
  'Subscriptions',
  'DIDs',
  'Email Rates Manager',
  'Import Manager',
  'Charges',
  'Payments',
]);

// ---------------------------------------------------------------------------
// Sample entities (CoreAPI shapes)
// ---------------------------------------------------------------------------

const CLIENT_ID = 12;
const ACCOUNT_ID = 31;
const SUBSCRIPTION_ID = 205;
const DID_ID = 4471;
const CHARGE_ID = 90211;
const PAYMENT_ID = 90215;
const RATES_EMAIL_ID = 318;
const IMPORT_JOB_ID = 5521;

const SAMPLE_CLIENT: Readonly<Record<string, unknown>> = {
  id: CLIENT_ID,
  name: 'Acme Telecom Ltd',
  companies_id: 1,
  currencies_id: 2,
  status: 'active',
  credit: 500,
  balance: 1250.75,
  c_company: 'Acme Telecom Ltd',
  c_email_billing: 'billing@acme-telecom.example',
  tags: ['wholesale', 'premium'],
  payment_terms_id: 3,
  custom_fields: { crm_id: 'CRM-00412', account_manager: 'J. Smith' },
};

const SAMPLE_ACCOUNT: Readonly<Record<string, unknown>> = {
  id: ACCOUNT_ID,
  clients_id: CLIENT_ID,
  name: 'Acme SIP trunk #1',
  auth_type: 'ip',
  ips: ['203.0.113.10', '203.0.113.11'],
  ani: '',
  tech_prefix: '4401#',
  orig_enabled: true,
  term_enabled: true,
  status: 'active',
};

const SAMPLE_SUBSCRIPTION: Readonly<Record<string, unknown>> = {
  id: SUBSCRIPTION_ID,
  clients_id: CLIENT_ID,
  packages_id: 7,
  status: 'active',
  start_dt: '2026-11-01T00:00:00+00:00',
  stop_dt: '2027-10-31T23:59:59+00:00',
  renew_due: '2026-12-01T00:00:00+00:00',
};

const SAMPLE_DID: Readonly<Record<string, unknown>> = {
  id: DID_ID,
  did: '442071234567',
  status: 'active',
  operators_id: 9,
  tag: 'UK London',
  notes: '',
  clients_id: CLIENT_ID,
  accounts_id: ACCOUNT_ID,
};

const SAMPLE_CHARGE: Readonly<Record<string, unknown>> = {
  id: CHARGE_ID,
  clients_id: CLIENT_ID,
  companies_id: 1,
  currencies_id: 2,
  type: 'charge',
  amount: 49.99,
  dt: '2026-11-22T10:15:30+00:00',
  payment_accounts_id: null,
  notes: 'Monthly DID rental, November 2026',
  status: 'approved',
};

const SAMPLE_PAYMENT: Readonly<Record<string, unknown>> = {
  id: PAYMENT_ID,
  clients_id: CLIENT_ID,
  companies_id: 1,
  currencies_id: 2,
  type: 'payment',
  amount: 1000,
  dt: '2026-11-22T10:15:30+00:00',
  payment_accounts_id: 4,
  notes: 'Bank transfer, invoice INV-2026-1187',
  status: 'approved',
};

const SAMPLE_RATES_EMAIL: Readonly<Record<string, unknown>> = {
  id: RATES_EMAIL_ID,
  file_name: 'carrier_a_rates_2026-11-22.xlsx',
  rate_tables_id: 14,
  error: null,
};

const SAMPLE_IMPORT_JOB: Readonly<Record<string, unknown>> = {
  id: IMPORT_JOB_ID,
  file_name: 'carrier_a_rates_2026-11-22.xlsx',
  rate_tables_id: 14,
  error: null,
};

/** Delete, archive and balance events carry an empty `data` object (the vendor's payload envelope). */
const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

function entry(
  id: string,
  group: string,
  entity: EntityKind,
  description: string,
  sampleObjectId: number,
  sampleData: Readonly<Record<string, unknown>>,
): EventDefinition {
  return Object.freeze({ id, group, entity, description, sampleObjectId, sampleData });
}

// ---------------------------------------------------------------------------
// The catalog, in the vendor's event table order
// ---------------------------------------------------------------------------

export const EVENT_CATALOG: readonly EventDefinition[] = Object.freeze([
  // Clients
  entry('clients.create', 'Clients', 'client', 'The client was created.', CLIENT_ID, SAMPLE_CLIENT),
  entry('clients.update', 'Clients', 'client', "The client's details were updated.", CLIENT_ID, {
    id: CLIENT_ID,
    name: 'My changed name',
  }),
  entry('clients.archive', 'Clients', 'client', 'The client was archived.', CLIENT_ID, EMPTY),
  entry(
    'clients.delete',
    'Clients',
    'client',
    'The client was completely deleted (not the same as archived).',
    CLIENT_ID,
    EMPTY,
  ),
  entry('clients.balance_zero', 'Clients', 'client', "The client's balance became <= 0.", CLIENT_ID, EMPTY),
  entry('clients.balance_notzero', 'Clients', 'client', "The client's balance became > 0.", CLIENT_ID, EMPTY),
  entry(
    'clients.custom_fields.update',
    'Clients',
    'client',
    "A client's custom field was updated.",
    CLIENT_ID,
    { id: CLIENT_ID, custom_fields: { crm_id: 'CRM-00412', account_manager: 'A. Jones' } },
  ),

  // Accounts
  entry('clients.accounts.create', 'Accounts', 'account', 'The account was created.', ACCOUNT_ID, SAMPLE_ACCOUNT),
  entry('clients.accounts.update', 'Accounts', 'account', "The account's details were updated.", ACCOUNT_ID, {
    ...SAMPLE_ACCOUNT,
    ips: ['203.0.113.10', '203.0.113.11', '203.0.113.12'],
  }),
  entry('clients.accounts.delete', 'Accounts', 'account', 'The account was completely deleted.', ACCOUNT_ID, EMPTY),

  // Subscriptions
  entry(
    'clients.subscriptions.assign',
    'Subscriptions',
    'subscription',
    'The subscription was assigned.',
    SUBSCRIPTION_ID,
    { ...SAMPLE_SUBSCRIPTION, status: 'pending' },
  ),
  entry(
    'clients.subscriptions.activate',
    'Subscriptions',
    'subscription',
    'The subscription was activated.',
    SUBSCRIPTION_ID,
    SAMPLE_SUBSCRIPTION,
  ),
  entry(
    'clients.subscriptions.deactivate',
    'Subscriptions',
    'subscription',
    'The subscription was deactivated.',
    SUBSCRIPTION_ID,
    { ...SAMPLE_SUBSCRIPTION, status: 'pending' },
  ),
  entry(
    'clients.subscriptions.renew',
    'Subscriptions',
    'subscription',
    'The subscription was renewed.',
    SUBSCRIPTION_ID,
    { ...SAMPLE_SUBSCRIPTION, renew_due: '2027-01-01T00:00:00+00:00' },
  ),
  entry(
    'clients.subscriptions.close',
    'Subscriptions',
    'subscription',
    'The subscription was closed.',
    SUBSCRIPTION_ID,
    { ...SAMPLE_SUBSCRIPTION, status: 'archive', stop_dt: '2026-11-22T10:15:30+00:00' },
  ),

  // DIDs
  entry('dids.create', 'DIDs', 'did', 'The DID was created.', DID_ID, {
    ...SAMPLE_DID,
    status: 'in_stock',
    clients_id: null,
    accounts_id: null,
  }),
  entry('dids.update', 'DIDs', 'did', 'The DID was updated.', DID_ID, {
    ...SAMPLE_DID,
    notes: 'Ported from BT on 2026-11-20',
  }),
  entry('dids.activate', 'DIDs', 'did', 'The DID was activated.', DID_ID, SAMPLE_DID),
  entry('dids.stock', 'DIDs', 'did', 'The DID was put in stock.', DID_ID, {
    ...SAMPLE_DID,
    status: 'in_stock',
    clients_id: null,
    accounts_id: null,
  }),
  entry('dids.block', 'DIDs', 'did', 'The DID was blocked.', DID_ID, { ...SAMPLE_DID, status: 'blocked' }),
  entry('dids.reserve', 'DIDs', 'did', 'The DID was reserved.', DID_ID, {
    ...SAMPLE_DID,
    status: 'reserved',
    accounts_id: null,
  }),
  entry('dids.hold', 'DIDs', 'did', 'The DID was put on hold.', DID_ID, { ...SAMPLE_DID, status: 'hold' }),
  // An archive event: `{}` per the vendor's payload envelope (an adapter may send the full DID with status 'archive').
  entry('dids.archive', 'DIDs', 'did', 'The DID was archived.', DID_ID, EMPTY),

  // Email Rates Manager
  entry(
    'email_rates_manager.import',
    'Email Rates Manager',
    'rates_email',
    'The import file was prepared for the task named in the handler settings, and the import process was stopped.',
    RATES_EMAIL_ID,
    SAMPLE_RATES_EMAIL,
  ),
  entry(
    'email_rates_manager.rate_tables_no_match',
    'Email Rates Manager',
    'rates_email',
    'No rate table matches the received email.',
    RATES_EMAIL_ID,
    { ...SAMPLE_RATES_EMAIL, rate_tables_id: null, error: 'No rate table matches sender rates@carrier-a.example' },
  ),
  entry(
    'email_rates_manager.no_attachments',
    'Email Rates Manager',
    'rates_email',
    'No attachments were found in the received email.',
    RATES_EMAIL_ID,
    { ...SAMPLE_RATES_EMAIL, file_name: null, error: 'No attachments found' },
  ),
  entry(
    'email_rates_manager.file_processing_error',
    'Email Rates Manager',
    'rates_email',
    'The received rates file could not be processed.',
    RATES_EMAIL_ID,
    { ...SAMPLE_RATES_EMAIL, error: 'Unsupported file format: sheet "Rates" not found' },
  ),

  // Import Manager
  entry(
    'importd.process_success',
    'Import Manager',
    'import_job',
    'An import attempt succeeded.',
    IMPORT_JOB_ID,
    SAMPLE_IMPORT_JOB,
  ),
  entry('importd.process_failed', 'Import Manager', 'import_job', 'An import attempt failed.', IMPORT_JOB_ID, {
    ...SAMPLE_IMPORT_JOB,
    error: 'Row 118: invalid effective date "2026-13-01"',
  }),

  // Charges
  entry(
    'accounting.charges.create',
    'Charges',
    'transaction',
    'A transaction of type charge was created.',
    CHARGE_ID,
    SAMPLE_CHARGE,
  ),
  entry(
    'accounting.charges.update',
    'Charges',
    'transaction',
    'A transaction of type charge was edited.',
    CHARGE_ID,
    { ...SAMPLE_CHARGE, amount: 39.99, notes: 'Monthly DID rental, November 2026 (discounted)' },
  ),
  entry(
    'accounting.charges.delete',
    'Charges',
    'transaction',
    'A transaction of type charge was removed.',
    CHARGE_ID,
    EMPTY,
  ),

  // Payments
  entry(
    'accounting.payments.create',
    'Payments',
    'transaction',
    'A transaction of type payment was created.',
    PAYMENT_ID,
    { ...SAMPLE_PAYMENT, status: 'pending' },
  ),
  entry(
    'accounting.payments.update',
    'Payments',
    'transaction',
    'A transaction of type payment was edited.',
    PAYMENT_ID,
    SAMPLE_PAYMENT,
  ),
  entry(
    'accounting.payments.delete',
    'Payments',
    'transaction',
    'A transaction of type payment was removed.',
    PAYMENT_ID,
    EMPTY,
  ),
]);

// ---------------------------------------------------------------------------
// Operational events: the service's own, about its handlers and deliveries
// ---------------------------------------------------------------------------

/** The display group of the operational events, listed after the vendor's groups. */
export const OPERATIONAL_GROUP = 'Provisioning';

const HANDLER_ID = 7;
const DELIVERY_ID = 88123;
const SAMPLE_HANDLER = { id: HANDLER_ID, name: 'Softswitch A', status: 'enabled', until: null } as const;

/**
 * What set each operational event off, the `cause` of its data (a fixed word; `reason` carries
 * the words shown to people). A disabled handler: failing longer than AUTO_DISABLE_AFTER
 * (`auto_disable`), a 410 Gone answer (`gone`) or an operator (`operator`). An exhausted
 * delivery: its retry limit spent (`retries`), a 410 Gone answer (`gone`) or a manual retry
 * that failed (`manual`). A pause or resume: an operator or a scheduled maintenance window
 * (its start or end, by the clock); a resume also a timed pause that ran out (`expired`).
 */
export const OPERATIONAL_CAUSES = Object.freeze({
  'provisioning.handler.circuit_opened': ['failures'],
  'provisioning.handler.circuit_closed': ['probe'],
  'provisioning.handler.paused': ['operator', 'window'],
  'provisioning.handler.resumed': ['operator', 'window', 'expired'],
  'provisioning.handler.disabled': ['auto_disable', 'gone', 'operator'],
  'provisioning.delivery.exhausted': ['retries', 'gone', 'manual'],
} as const);

export type OperationalEventId = keyof typeof OPERATIONAL_CAUSES;

export const OPERATIONAL_EVENTS: readonly EventDefinition[] = Object.freeze([
  entry(
    'provisioning.handler.circuit_opened',
    OPERATIONAL_GROUP,
    'handler',
    "The handler's circuit opened after a run of failures in a row, or too many failed calls in a window (CIRCUIT_FAILURE_RATE): its deliveries wait for a cool-down, then one probe call.",
    HANDLER_ID,
    { ...SAMPLE_HANDLER, cause: 'failures', reason: '5 failed calls in a row', until: '2026-11-22T10:20:30+00:00' },
  ),
  entry(
    'provisioning.handler.circuit_closed',
    OPERATIONAL_GROUP,
    'handler',
    "The handler's circuit closed: the probe call succeeded and its waiting deliveries go out again.",
    HANDLER_ID,
    { ...SAMPLE_HANDLER, cause: 'probe', reason: 'The probe call succeeded' },
  ),
  entry(
    'provisioning.handler.paused',
    OPERATIONAL_GROUP,
    'handler',
    'The handler was paused (by an operator, or a maintenance window began): its deliveries are held (not skipped) until it resumes.',
    HANDLER_ID,
    { ...SAMPLE_HANDLER, cause: 'window', reason: 'Maintenance window', until: '2026-11-23T02:00:00+00:00' },
  ),
  entry(
    'provisioning.handler.resumed',
    OPERATIONAL_GROUP,
    'handler',
    'The handler was resumed (by an operator, a maintenance window ended or a timed pause ran out): its held deliveries go out in their order.',
    HANDLER_ID,
    { ...SAMPLE_HANDLER, cause: 'operator', reason: 'Resumed by an operator' },
  ),
  entry(
    'provisioning.handler.disabled',
    OPERATIONAL_GROUP,
    'handler',
    'The handler was disabled (automatically, after a 410 Gone answer, or by an operator): its deliveries are skipped.',
    HANDLER_ID,
    {
      ...SAMPLE_HANDLER,
      status: 'disabled',
      cause: 'auto_disable',
      reason: 'Failing without a success since 2026-11-19T10:15:30.000Z (longer than AUTO_DISABLE_AFTER)',
    },
  ),
  entry(
    'provisioning.delivery.exhausted',
    OPERATIONAL_GROUP,
    'delivery',
    'A delivery failed for good (its retries spent, a 410 Gone answer, or a manual retry that failed); it can be retried by hand.',
    DELIVERY_ID,
    {
      id: DELIVERY_ID,
      event_id: 51234,
      event: 'clients.update',
      object_id: CLIENT_ID,
      handler_id: HANDLER_ID,
      handler_name: 'Softswitch A',
      attempts: 8,
      last_response_code: 503,
      last_error: 'receiver answered 503',
      cause: 'retries',
    },
  ),
]);

/** The vendor's events, then the operational events: everything the catalog route lists and handlers may subscribe to. */
export const ALL_EVENTS: readonly EventDefinition[] = Object.freeze([...EVENT_CATALOG, ...OPERATIONAL_EVENTS]);

const CATALOG_BY_ID: ReadonlyMap<string, EventDefinition> = new Map(
  ALL_EVENTS.map((e): [string, EventDefinition] => [e.id, e]),
);

/** The catalog entry for an event ID (the vendor's or an operational one), or `undefined` when the ID is not in the catalog. */
export function findEvent(id: string): EventDefinition | undefined {
  return CATALOG_BY_ID.get(id);
}

/** True when `id` is an exact catalog event ID, operational ones included (wildcards such as `clients.*` are not). */
export function isCatalogEvent(id: string): boolean {
  return CATALOG_BY_ID.has(id);
}

/** True for the service's own events (`provisioning.*`): emitted by the service only, never posted from outside. */
export function isOperationalEvent(id: string): id is OperationalEventId {
  return Object.hasOwn(OPERATIONAL_CAUSES, id);
}

/** A sample payload envelope for an event; `data` is a deep copy of the sample. */
export function sampleEnvelope(def: EventDefinition, dt: string = SAMPLE_EVENT_DT): EventEnvelope {
  return {
    event: { dt, events_id: def.id, object_id: def.sampleObjectId },
    data: structuredClone(def.sampleData) as Record<string, unknown>,
  };
}
