import { DirectAdapter } from './direct-adapter.js';

/**
 * Email Rates Manager results (shape `rates_email`): import | rate_tables_no_match |
 * no_attachments | file_processing_error → email_rates_manager.<op>, data = after.
 */
export class RatesEmailAdapter extends DirectAdapter {
  constructor() {
    super('rates-email', 'rates_email', 'email_rates_manager', ['import', 'rate_tables_no_match', 'no_attachments', 'file_processing_error']);
  }
}
