import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/app-config.js';
import { buildDataSourceOptions } from '../../src/database/data-source.js';

describe('SQLite settings', () => {
  for (const [setting, expected] of [[undefined, 2], ['full', 2], ['normal', 1]] as const) {
    it(`SQLITE_SYNCHRONOUS=${setting ?? '(unset)'} runs in WAL mode with synchronous=${expected}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'prov-pragma-'));
      const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'x.sqlite')}`, SQLITE_SYNCHRONOUS: setting });
      const dataSource = new DataSource(buildDataSourceOptions(config.database));
      await dataSource.initialize();
      try {
        const [sync] = await dataSource.query('PRAGMA synchronous');
        const [mode] = await dataSource.query('PRAGMA journal_mode');
        assert.equal(sync.synchronous, expected);
        assert.equal(mode.journal_mode, 'wal');
      } finally {
        await dataSource.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  it('refuses another SQLITE_SYNCHRONOUS value, naming the variable', () => {
    assert.throws(() => loadConfig({ SQLITE_SYNCHRONOUS: 'off' }), /SQLITE_SYNCHRONOUS/);
  });
});
