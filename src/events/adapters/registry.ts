/**
 * The event-source adapters by URL entity name. Together they can emit every
 * catalog event (the vendor's event table).
 */
import { AccountAdapter } from './account-adapter.js';
import { ClientAdapter } from './client-adapter.js';
import { DidAdapter } from './did-adapter.js';
import { ImportAdapter } from './import-adapter.js';
import { RatesEmailAdapter } from './rates-email-adapter.js';
import type { SourceAdapter } from './source-adapter.js';
import { SubscriptionAdapter } from './subscription-adapter.js';
import { TransactionAdapter } from './transaction-adapter.js';

const ADAPTERS: readonly SourceAdapter[] = [
  new ClientAdapter(),
  new AccountAdapter(),
  new SubscriptionAdapter(),
  new DidAdapter(),
  new TransactionAdapter('charge'),
  new TransactionAdapter('payment'),
  new ImportAdapter(),
  new RatesEmailAdapter(),
];

export const SOURCE_ADAPTERS: ReadonlyMap<string, SourceAdapter> = new Map(
  ADAPTERS.map((a): [string, SourceAdapter] => [a.entity, a]),
);

/** The URL entity names, in registry order: client, account, subscription, did, charge, payment, import, rates-email. */
export const SOURCE_ENTITIES: readonly string[] = Object.freeze(ADAPTERS.map((a) => a.entity));

/** The adapter of a URL entity name, or undefined when there is none. */
export function findSourceAdapter(entity: string): SourceAdapter | undefined {
  return SOURCE_ADAPTERS.get(entity);
}
