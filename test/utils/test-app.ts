import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createApp, createLogger, shutDown } from '../../src/app.factory.js';
import { ApiKeysService } from '../../src/api-keys/api-keys.service.js';
import { AppConfig, loadConfig } from '../../src/config/app-config.js';
import type { Scope } from '../../src/api-keys/scopes.js';
import type { TestDatabase } from './databases.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  url: string;
  adminKey: string;
  /** A supertest agent bound to the listening app. */
  http: ReturnType<typeof request>;
  /** Creates a key with these scopes through the API; returns the key. */
  key(...scopes: Scope[]): Promise<string>;
  close(): Promise<void>;
}

/** Boots the real AppModule in-process on 127.0.0.1 with a random port against `db`. */
export async function startApp(db: TestDatabase, env: Record<string, string> = {}): Promise<TestApp> {
  const workDir = mkdtempSync(join(tmpdir(), 'prov-app-'));
  const adminKey = `test_admin_${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: db.url,
    BOOTSTRAP_ADMIN_KEY: adminKey,
    ADMIN_KEY_FILE: join(workDir, 'admin-key.txt'),
    LOG_LEVEL: 'error',
    PORT: '0',
    ...env,
  });
  const app = await createApp(config, createLogger(config.log));
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const http = request(url);
  return {
    app,
    config,
    url,
    adminKey,
    http,
    async key(...scopes: Scope[]) {
      // Internal keys come only from the host (as `npm run keys` makes them), never from an admin key.
      if (scopes.includes('internal')) return (await app.get(ApiKeysService).createOnHost(`test ${scopes.join('+')}`, scopes)).key;
      const response = await http
        .post('/api/v1/api-keys')
        .set('Authorization', `Bearer ${adminKey}`)
        .send({ name: `test ${scopes.join('+')}`, scopes });
      if (response.status !== 201) throw new Error(`could not create key: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body.key as string;
    },
    async close() {
      await shutDown(app);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });
