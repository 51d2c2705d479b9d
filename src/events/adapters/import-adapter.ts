import { DirectAdapter } from './direct-adapter.js';

/** Import Manager jobs (shape `import_job`): process_success | process_failed → importd.<op>, data = after. */
export class ImportAdapter extends DirectAdapter {
  constructor() {
    super('import', 'import_job', 'importd', ['process_success', 'process_failed']);
  }
}
