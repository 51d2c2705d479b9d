import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { buildOpenApiDocument, createApp, shutDown } from '../../src/app.factory.js';
import { ApiKeysService } from '../../src/api-keys/api-keys.service.js';
import { AppConfig, loadConfig } from '../../src/config/app-config.js';
import type { Scope } from '../../src/api-keys/scopes.js';
import type { TestDatabase } from './databases.js';
import { OpenApiContract } from './openapi-contract.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  url: string;
  adminKey: string;
  /** A supertest agent bound to the listening app. */
  http: ReturnType<typeof request>;
  /** Creates a key with these scopes through the API; returns the key. */
  key(...scopes: Scope[]): Promise<string>;
  /** The OpenAPI contract check of every answer this app sends (see test/utils/openapi-contract.ts). */
  contract: OpenApiContract;
  /** Shuts the app down; then fails the test file if any answer broke the OpenAPI contract. */
  close(): Promise<void>;
}

/**
 * The key of secrets at rest for every app this test process starts (unless `env` names a key
 * file): the apps of one database share it, as instances must, and no key file is written into
 * the working folder (test/e2e/secrets-at-rest.e2e.test.ts covers the generated key file).
 */
const TEST_SECRETS_KEY = randomBytes(32).toString('base64');

/**
 * The configuration tests run the app with against `db`: a fresh bootstrap admin key (unless
 * `env` has one), a work folder of its own (remove it when done), errors-only logs, the process's secrets key; `env` on top.
 */
export function testConfig(db: TestDatabase, env: Record<string, string> = {}): { config: AppConfig; adminKey: string; workDir: string } {
  const workDir = mkdtempSync(join(tmpdir(), 'prov-app-'));
  const adminKey = env.BOOTSTRAP_ADMIN_KEY ?? `test_admin_${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: db.url,
    BOOTSTRAP_ADMIN_KEY: adminKey,
    ADMIN_KEY_FILE: join(workDir, 'admin-key.txt'),
    LOG_LEVEL: 'error',
    PORT: '0',
    ...(env.SECRETS_KEY_FILE === undefined ? { SECRETS_KEY: TEST_SECRETS_KEY } : {}),
    ...env,
  });
  return { config, adminKey, workDir };
}

/** Boots the real AppModule in-process on 127.0.0.1 with a random port against `db`. */
export async function startApp(db: TestDatabase, env: Record<string, string> = {}): Promise<TestApp> {
  const { config, adminKey, workDir } = testConfig(db, env);
  const app = await createApp(config);
  const contract = watchContract(app);
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
    contract,
    async close() {
      await shutDown(app);
      rmSync(workDir, { recursive: true, force: true });
      if (contract.violations.length > 0) {
        const error = new Error(
          `${contract.violations.length} answer(s) do not match the OpenAPI document (${contract.counts.checked} checked):\n${contract.report()}`,
        );
        process.stderr.write(`${error.message}\n`);
        // Thrown just after close() returns, so that the caller's remaining clean-up (receivers,
        // the database) still runs: a rejection here would skip it and leave the test process
        // hanging on open servers. node:test fails the file on the uncaught error.
        setImmediate(() => {
          throw error;
        });
      }
    },
  };
}

/**
 * Checks every answer of `app` against the OpenAPI document the app serves: an onSend hook
 * validates the payload against the response declared for (method, route template, status).
 * Streams (Swagger UI assets) are not read; the routes left out of the document on purpose are
 * listed in UNDOCUMENTED_ROUTES and skipped there.
 */
function watchContract(app: NestFastifyApplication): OpenApiContract {
  const contract = new OpenApiContract(buildOpenApiDocument(app));
  const fastify = app.getHttpAdapter().getInstance();
  const seen = new WeakSet<IncomingMessage>();
  // Fastify answers some requests before any hook runs (an undecodable URL, an over-long path
  // parameter): those are caught at the HTTP server and held to the error schema.
  fastify.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const capture = (chunk: unknown) => {
      if (!seen.has(req) && chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
      }
    };
    // Fastify's early answers pass their headers to writeHead, where getHeader cannot see them.
    let headType: string | undefined;
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a, i) => i > 0 && a !== null && typeof a === 'object') as Record<string, unknown> | undefined;
      const type = headers && Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
      if (typeof type === 'string') headType = type;
      return writeHead(...args);
    }) as typeof res.writeHead;
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.write = ((...args: unknown[]) => (capture(args[0]), write(...args))) as typeof res.write;
    res.end = ((...args: unknown[]) => (capture(args[0]), end(...args))) as typeof res.end;
    res.once('finish', () => {
      if (seen.has(req)) return;
      const type = res.getHeader('content-type') ?? headType;
      contract.check(req.method ?? 'GET', undefined, res.statusCode, typeof type === 'string' ? type : undefined, Buffer.concat(chunks).toString('utf8'));
    });
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    seen.add(request.raw);
    try {
      let body: string | undefined;
      if (payload === null || payload === undefined) body = '';
      else if (typeof payload === 'string') body = payload;
      else if (Buffer.isBuffer(payload)) body = payload.toString('utf8');
      if (body === undefined) {
        // A stream: only static files are sent this way, and they are outside the document.
        const route = request.routeOptions.url ?? '';
        if (!route.startsWith('/docs') && !route.startsWith('/console')) {
          contract.violations.push({ method: request.method, route, status: reply.statusCode, problem: 'a streamed answer on a documented route', body: '' });
        }
      } else {
        const type = reply.getHeader('content-type');
        contract.check(request.method, request.routeOptions.url, reply.statusCode, typeof type === 'string' ? type : undefined, body);
      }
    } catch (error) {
      contract.violations.push({ method: request.method, route: request.url, status: reply.statusCode, problem: `contract check crashed: ${String(error)}`, body: '' });
    }
    done(null, payload);
  });
  return contract;
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** How many rows a table holds now, read through the app's own connection. */
export async function countRows(t: Pick<TestApp, 'app'>, table: string): Promise<number> {
  const [row] = await t.app.get(DataSource).query(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(row.n);
}

/**
 * How many deliveries were planned (and have not expired): those in the queue and those that
 * succeeded, which left it in the transaction that wrote their success log row (so a delivery
 * finishing meanwhile does not change the figure).
 */
export async function countDeliveries(t: Pick<TestApp, 'app'>): Promise<number> {
  const [row] = await t.app.get(DataSource).query(
    `SELECT (SELECT COUNT(*) FROM deliveries) + (SELECT COUNT(DISTINCT l.delivery_id) FROM execution_logs l
       WHERE l.status = 'success' AND l.delivery_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = l.delivery_id)) AS n`,
  );
  return Number(row.n);
}
