// The operator console (/console) driven in headless Chromium through playwright-core.
//
// Runs on SQLite only: the console is a client of the REST API, whose behaviour on SQLite and
// MySQL/MariaDB the e2e tier already covers; here what matters is what the page shows and does.
// Chromium comes from Debian (`apt-get install chromium`, done by .ci/run). Without it the suite
// is skipped with the reason, except under CI=true, where it fails.
import { afterEach, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { forEachDatabase } from '../utils/suite.js';
import { keysScript } from '../utils/service-process.js';
import { logRecord } from '../factories/execution-log.factory.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { HandlerEntity } from '../../src/handlers/handler.entity.js';
import { SecretBox } from '../../src/secrets/secret-box.js';
import { ExecutionLogsService } from '../../src/execution-logs/execution-logs.service.js';
import { AuditStore } from '../../src/audit/audit-store.js';
import { DEFAULTS } from '../../src/config/app-config.js';
import { SCOPES } from '../../src/api-keys/scopes.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = join('test-results', 'console');
const ASSETS = join('src', 'console', 'public');

const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found: install Debian's chromium package (see .ci/run)`;
const skip = missing !== null && process.env.CI !== 'true' ? missing : false;

type Json = Record<string, any>;
/** The browser globals the page functions below use (this file compiles without the DOM library). */
declare const document: { querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }> };
declare const sessionStorage: { length: number } & Record<string, string>;

forEachDatabase('console: static files', { only: 'sqlite' }, (t) => {
  it('serves every file without a key, with a strict Content-Security-Policy, and nothing else', async () => {
    const page = await t.http.get('/console');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'], /^text\/html; charset=utf-8/);
    const csp = page.headers['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');

    const files = readdirSync(ASSETS).sort();
    assert.ok(files.includes('index.html') && files.includes('app.js') && files.includes('console.css'), files.join(', '));
    const types: Record<string, RegExp> = { html: /^text\/html/, js: /^text\/javascript/, css: /^text\/css/ };
    for (const file of files) {
      const response = await t.http.get(`/console/${file}`);
      assert.equal(response.status, 200, file);
      assert.match(response.headers['content-type'], types[file.split('.').pop()!]!, file);
      assert.equal(response.headers['content-security-policy'], csp, file);
      const text = readFileSync(join(ASSETS, file), 'utf8');
      assert.equal(response.text, text, `${file} is served as it is on disk`);
      // Nothing is fetched from another origin (no CDN): the only absolute URL is the SVG namespace.
      assert.doesNotMatch(text.replaceAll('http://www.w3.org/2000/svg', ''), /\b(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, file);
    }
    const html = readFileSync(join(ASSETS, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /\sstyle=|<style/i, 'no inline style');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');

    const slash = await t.http.get('/console/');
    assert.equal(slash.status, 301);
    assert.equal(slash.headers.location, '/console');
    for (const path of ['/console/missing.js', '/console/..%2Fpackage.json', '/console/%2e%2e%2fREADME.md', '/console/.gitignore']) {
      const response = await t.http.get(path);
      assert.equal(response.status, 404, path);
      assert.equal(response.body.code, 'ROUTE_NOT_FOUND', path);
    }
    const doc = (await t.http.get('/docs-json')).body;
    assert.deepEqual(Object.keys(doc.paths).filter((path) => path.startsWith('/console')), [], 'the console stays out of the API document');
  });
});

forEachDatabase('console in Chromium', { only: 'sqlite', skip }, (t) => {
  let admin: Record<string, string>;
  let userDataDir: string;
  let browser: BrowserContext;
  let receiver: TestReceiver;
  let failing: TestReceiver;
  const problems: string[] = [];
  const pages: Page[] = [];
  // Ids shared by the steps below, which run in order.
  let crm: Json;
  let dids: Json;
  let archived: Json;
  let payments: Json;
  let successLogId: number;
  let failLogId: number;

  before(async () => {
    if (missing) throw new Error(`${missing} (CI=true: the browser tests must run)`);
    admin = t.admin;
    receiver = await t.receiver();
    failing = await t.receiver(() => ({ status: 500, body: '{"error":"down for maintenance"}' }));
    mkdirSync(SCREENSHOTS, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), 'prov-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 860 },
      timezoneId: 'UTC',
      locale: 'en-GB',
    });
    browser.setDefaultTimeout(30_000);
  });
  // The browser goes first: the app closes on no open page.
  t.beforeClose(() => browser?.close());
  t.cleanup(() => {
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
    // CSP violations, script errors and failed module loads all surface here.
    assert.deepEqual(problems.splice(0), [], 'the page reported problems');
  });

  /** A new tab (so a new sessionStorage) on the console. */
  const newPage = async (): Promise<Page> => {
    const page = await browser.newPage();
    pages.push(page);
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // A refused API call is logged by Chromium as a failed resource; the tests check those answers themselves.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${t.url}/console`);
    return page;
  };
  const signIn = async (key: string): Promise<Page> => {
    const page = await newPage();
    await page.fill('#api-key', key);
    await page.click('form.signin button[type=submit]');
    await page.locator('#handlers-table').waitFor();
    return page;
  };
  const screenshot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const api = async (method: 'get' | 'post' | 'patch' | 'delete', path: string, body?: Json) => {
    const response = await t.http[method](path).set(admin).send(body);
    return response;
  };
  /** Waits until the table shows exactly these row ids, in this order. */
  const waitForRows = async (page: Page, table: string, expected: number[]) => {
    try {
      await page.waitForFunction(
        ([selector, ids]) =>
          JSON.stringify(Array.from(document.querySelectorAll(`${selector} tbody tr[data-id]`), (row) => Number(row.getAttribute('data-id')))) ===
          JSON.stringify(ids),
        [table, expected] as const,
        { timeout: 20_000 },
      );
    } catch {
      const shown = await page.$$eval(`${table} tbody tr[data-id]`, (rows) => rows.map((row) => Number(row.getAttribute('data-id'))));
      assert.deepEqual(shown, expected, `rows of ${table}`);
    }
  };
  /** The text of each cell of a row, as displayed (innerText), whitespace collapsed. */
  const cells = (page: Page, selector: string) =>
    page.$$eval(`${selector} > td`, (tds) => tds.map((td) => String(td.innerText).replace(/\s+/g, ' ').trim()));
  const search = async (page: Page, filters: { event?: string; type?: string; status?: string }) => {
    if (!(await page.locator('#search-panel').isVisible())) await page.click('#advanced-search');
    await page.selectOption('#search-event', filters.event ?? '');
    await page.selectOption('#search-type', filters.type ?? '');
    await page.selectOption('#search-status', filters.status ?? '');
    await page.click('#search-submit');
  };
  const logIds = async (query: string) => ((await api('get', `/api/v1/execution-logs?${query}`)).body.items as Json[]).map((log) => log.id as number);

  it('asks for the API key once per tab, says where a key comes from, and refuses an unknown one', async () => {
    const page = await newPage();
    await page.locator('#api-key').waitFor();
    await screenshot(page, '01-key-entry');

    // The sign-in page says where a key comes from: the first admin key's file (the configured
    // default) or BOOTSTRAP_ADMIN_KEY, the keys command, and every scope with what it opens.
    const sources = (await page.textContent('#key-sources'))!;
    assert.ok(sources.includes(DEFAULTS.adminKeyFile), sources);
    assert.match(sources, /BOOTSTRAP_ADMIN_KEY/);
    for (const scope of SCOPES) assert.match(sources, new RegExp(`\\b${scope}\\b`), `scope ${scope} is explained`);
    // The command shown works as printed: run its arguments through the compiled keys CLI on
    // this database, then open the console with the key it prints.
    const command = (await page.$$eval('#key-sources code', (codes) => codes.map((code) => String(code.textContent)))).find((text) => text.startsWith('npm run keys -- create'))!;
    assert.ok(command, sources);
    const args = [...command.slice('npm run keys -- '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2]!);
    const created = await keysScript(t.db.url, ...args);
    const printedKey = /^(pk_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(printedKey, created.stdout);
    const viaCommand = await signIn(printedKey);
    assert.equal(await viaCommand.textContent('#scopes'), 'read · read-only', 'the command makes a key the console opens with');
    await page.fill('#api-key', 'pk_not_a_key_of_this_service');
    await page.click('form.signin button[type=submit]');
    await page.locator('#key-error', { hasText: 'unknown or revoked' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    await page.fill('#api-key', t.adminKey);
    await page.click('form.signin button[type=submit]');
    await page.locator('#handlers-table').waitFor();
    assert.equal(await page.textContent('#scopes'), 'admin');
    assert.deepEqual(await page.evaluate(() => Object.values(sessionStorage)), [t.adminKey]);
    assert.ok(!(await page.content()).includes(t.adminKey), 'the key must not be shown in the page');

    await page.reload();
    await page.locator('#handlers-table').waitFor();
    assert.equal(await page.locator('#api-key').count(), 0, 'a reload keeps the session');

    await page.click('#sign-out');
    await page.locator('#api-key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    const other = await newPage();
    await other.locator('#api-key').waitFor();
  });

  it('creates a handler through the form: errors next to their fields, the secret shown after create', async () => {
    const page = await signIn(t.adminKey);
    await page.click('#new-handler');
    await page.fill('#f-name', 'CRM: new clients');
    await page.selectOption('#f-event', 'clients.create');
    assert.equal(await page.textContent('#event-description'), 'The client was created.');
    await page.selectOption('#f-type', 'http');
    await page.fill('#f-task', receiver.task('/crm'));
    await page.fill('#f-priority', '0');
    await page.click('#add-header');
    await page.locator('.header-row').last().locator('.header-name').fill('X-Tenant');
    await page.locator('.header-row').last().locator('.header-value').fill('north');
    await page.click('#add-header');
    await page.locator('.header-row').last().locator('.header-name').fill('X-Api-Token');
    await page.locator('.header-row').last().locator('.header-value').fill('tok-123');

    // The page shows what the API answers for the same input, next to the field it names.
    const body = { name: 'CRM: new clients', event: 'clients.create', type: 'http', task: receiver.task('/crm'), status: 'enabled', stage: 'after', priority: 0 };
    const refusal = await api('post', '/api/v1/handlers', body);
    assert.equal(refusal.status, 400);
    assert.deepEqual(refusal.body.details.map((d: Json) => d.field), ['priority']);
    await page.click('#handler-save');
    await page.locator('[data-error-for="priority"] .error-line').waitFor();
    assert.equal(await page.textContent('[data-error-for="priority"]'), refusal.body.details[0].message);
    assert.equal(await page.getAttribute('#f-priority', 'aria-invalid'), 'true');
    assert.equal(await page.locator('[data-error-for="task"] .error-line').count(), 0);
    await screenshot(page, '02-form-validation');

    const badTask = await api('post', '/api/v1/handlers', { ...body, priority: 1, task: 'ftp://files.example.org/in' });
    assert.equal(badTask.body.code, 'INVALID_TASK');
    await page.fill('#f-priority', '1');
    await page.fill('#f-task', 'ftp://files.example.org/in');
    await page.click('#handler-save');
    await page.locator('[data-error-for="task"] .error-line').waitFor();
    assert.equal(await page.textContent('[data-error-for="task"]'), badTask.body.details[0].message);
    assert.equal(await page.locator('[data-error-for="priority"] .error-line').count(), 0, 'the old error is cleared');
    assert.equal((await api('get', '/api/v1/handlers?status=&per_page=500')).body.total, 0, 'refused input created nothing');

    await page.fill('#f-task', receiver.task('/crm'));
    await page.click('#handler-save');
    await page.locator('#signing-secret').waitFor();
    const listed = (await api('get', '/api/v1/handlers')).body.items as Json[];
    assert.equal(listed.length, 1);
    crm = listed[0]!;
    const secret = (await api('get', `/api/v1/handlers/${crm.id}/secret`)).body.signing_secret as string;
    assert.match(secret, /^whsec_/);
    assert.equal(await page.textContent('#signing-secret'), secret);
    // The API lets an admin key reveal the secret again (GET …/secret): the dialog says so, not "only once".
    const dialogText = (await page.textContent('.secret-dialog'))!;
    assert.doesNotMatch(dialogText, /only (this )?once/i);
    assert.match((await page.textContent('#secret-later'))!, /admin key can reveal it again, or rotate it/);
    await screenshot(page, '03-secret-after-create');
    await page.click('.secret-dialog .dialog-actions button');
    await page.locator('#signing-secret').waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(secret), 'the secret is gone once the dialog closes');

    assert.deepEqual(
      { name: crm.name, event: crm.event, type: crm.type, task: crm.task, priority: crm.priority, status: crm.status, stage: crm.stage, headers: crm.headers },
      { name: 'CRM: new clients', event: 'clients.create', type: 'http', task: receiver.task('/crm'), priority: 1, status: 'enabled', stage: 'after', headers: { 'X-Tenant': 'north', 'X-Api-Token': '********' } },
    );
    await waitForRows(page, '#handlers-table', [crm.id]);
    const row = await cells(page, `#handlers-table tr[data-id="${crm.id}"]`);
    assert.deepEqual(row.slice(1, 4), [String(crm.id), '1', 'CRM: new clients']);
    assert.equal(row[4], 'clients.create The client was created.');
    assert.equal(row[5], `HTTP ${receiver.task('/crm')}`);
    assert.equal(await page.getAttribute(`tr[data-id="${crm.id}"] .status-icon`, 'data-status'), 'enabled');
    await screenshot(page, '04-handlers');
  });

  it('toggles a handler with one click and filters the list by status, event and type', async () => {
    dids = (await api('post', '/api/v1/handlers', { name: 'Softswitch DIDs', event: 'dids.*', type: 'https', task: 'softswitch.example.net/provision', priority: 20 })).body;
    archived = (await api('post', '/api/v1/handlers', { name: 'Old gateway', event: 'clients.*', type: 'http', task: '192.0.2.10:8080/hook', status: 'archived', priority: 5 })).body;
    const page = await signIn(t.adminKey);
    await waitForRows(page, '#handlers-table', [crm.id, dids.id]);

    await page.click(`tr[data-id="${crm.id}"] button.status-toggle`);
    await page.locator(`tr[data-id="${crm.id}"] .status-icon[data-status="disabled"]`).waitFor();
    assert.equal((await api('get', `/api/v1/handlers/${crm.id}`)).body.status, 'disabled');
    assert.equal(await page.getAttribute(`tr[data-id="${crm.id}"] button.status-toggle`, 'aria-label'), 'Disabled: click to enable');
    await screenshot(page, '05-toggled');

    await search(page, { status: 'disabled' });
    await waitForRows(page, '#handlers-table', [crm.id]);
    assert.match(page.url(), /#\/handlers\?status=disabled$/);
    await screenshot(page, '06-advanced-search');
    await search(page, { status: 'enabled' });
    await waitForRows(page, '#handlers-table', [dids.id]);
    await search(page, { status: 'archived' });
    await waitForRows(page, '#handlers-table', [archived.id]);
    // Archived: shown, not toggled.
    assert.equal(await page.locator(`tr[data-id="${archived.id}"] button.status-toggle`).count(), 0);
    assert.equal(await page.getAttribute(`tr[data-id="${archived.id}"] .status-icon`, 'data-status'), 'archived');
    await search(page, { status: '' });
    await waitForRows(page, '#handlers-table', [crm.id, dids.id]);
    await search(page, { event: 'dids.*' });
    await waitForRows(page, '#handlers-table', [dids.id]);
    await search(page, { type: 'http' });
    await waitForRows(page, '#handlers-table', [crm.id]);
    await page.click('#advanced-search');
    await page.click('#search-reset');
    await waitForRows(page, '#handlers-table', [crm.id, dids.id]);
    assert.equal(page.url(), `${t.url}/console#/handlers`);

    await page.click(`tr[data-id="${crm.id}"] button.status-toggle`);
    await page.locator(`tr[data-id="${crm.id}"] .status-icon[data-status="enabled"]`).waitFor();
    assert.equal((await api('get', `/api/v1/handlers/${crm.id}`)).body.status, 'enabled');
  });

  it("opens a handler's execution logs after an event was delivered and shows the payload sent", async () => {
    const posted = await api('post', '/api/v1/events', { event: 'clients.create', object_id: 4242, data: { id: 4242, name: 'Console Test Client' } });
    assert.equal(posted.status, 202, JSON.stringify(posted.body));
    const [call] = await receiver.waitFor(1);
    const logs = await eventually(async () => {
      const items = (await api('get', `/api/v1/handlers/${crm.id}/execution-logs`)).body.items as Json[];
      return items.length === 1 ? items : undefined;
    });
    successLogId = logs[0]!.id;
    assert.equal(logs[0]!.status, 'success');

    const page = await signIn(t.adminKey);
    await page.click(`tr[data-id="${crm.id}"] [data-action="logs"]`);
    await page.locator('#handler-filter', { hasText: `Handler ${crm.id} · CRM: new clients` }).waitFor();
    await waitForRows(page, '#logs-table', [successLogId]);
    const row = await cells(page, `#logs-table tr[data-id="${successLogId}"]`);
    assert.equal(row[0], String(successLogId));
    assert.equal(row[1], 'Success');
    assert.match(row[2]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.deepEqual(row.slice(3, 6), ['clients.create', `${crm.id} · CRM: new clients`, '4242']);
    assert.ok(row[6]!.startsWith('200 '), row[6]);
    assert.match(row[7]!, /^\d+ ms$/);
    await screenshot(page, '07-execution-logs');

    await page.click(`#logs-table tr[data-id="${successLogId}"] [data-action="details"]`);
    await page.locator('#log-payload').waitFor();
    const shown = JSON.parse((await page.textContent('#log-payload'))!);
    assert.deepEqual(shown, JSON.parse(call!.body), 'the payload shown is the one the receiver got');
    assert.deepEqual(shown.data, { id: 4242, name: 'Console Test Client' });
    assert.equal(shown.event.events_id, 'clients.create');
    assert.deepEqual(JSON.parse((await page.textContent('#log-response'))!), shown, 'the receiver echoed the payload');
    const facts = await page.textContent('#log-facts');
    assert.match(facts!, /Response code200/);
    assert.match(facts!, new RegExp(`Delivery\\d+: succeeded, 1 attempt`));
    assert.equal(await page.locator('#retry-delivery').count(), 0, 'nothing to retry after a success');
    await screenshot(page, '08-log-detail');
  });

  it('filters the execution logs by status, event, error text and dates', async () => {
    payments = (await api('post', '/api/v1/handlers', { name: 'Payments ledger', event: 'accounting.payments.create', type: 'http', task: failing.task('/ledger'), retry_limit: 0, priority: 3 })).body;
    const posted = await api('post', '/api/v1/events', { event: 'accounting.payments.create', object_id: 77, data: { id: 77, amount: 10 } });
    assert.equal(posted.status, 202);
    const failed = await eventually(async () => {
      const items = (await api('get', `/api/v1/handlers/${payments.id}/execution-logs`)).body.items as Json[];
      return items[0];
    });
    failLogId = failed.id;
    assert.equal(failed.status, 'fail');
    assert.equal(failed.error, 'receiver answered 500');

    const page = await signIn(t.adminKey);
    await page.click('.tabs a[href="#/logs"]');
    await waitForRows(page, '#logs-table', [failLogId, successLogId]);
    const row = await cells(page, `#logs-table tr[data-id="${failLogId}"]`);
    assert.equal(row[1], 'Fail');
    assert.match(row[6]!, /^500 .*receiver answered 500$/);

    const filter = async (values: { event?: string; objectId?: string; status?: string; errorKind?: string; error?: string; from?: string; to?: string }, expected: number[]) => {
      await page.selectOption('#logs-event', values.event ?? '');
      await page.fill('#logs-object', values.objectId ?? '');
      await page.selectOption('#logs-status', values.status ?? '');
      await page.selectOption('#logs-error-kind', values.errorKind ?? '');
      await page.fill('#logs-error', values.error ?? '');
      await page.fill('#logs-from', values.from ?? '');
      await page.fill('#logs-to', values.to ?? '');
      await page.click('#logs-search');
      await waitForRows(page, '#logs-table', expected);
    };
    await filter({ status: 'fail' }, [failLogId]);
    assert.deepEqual(await logIds('status=fail'), [failLogId]);
    await screenshot(page, '09-logs-filtered');
    await filter({ status: 'success' }, [successLogId]);
    await filter({ event: 'clients.create' }, [successLogId]);
    await filter({ event: 'accounting.payments.create' }, [failLogId]);
    await filter({ error: 'ANSWERED 500' }, [failLogId]);
    await filter({ error: 'timeout' }, []);
    assert.equal(await page.textContent('#logs-table tbody'), 'No calls match.');
    await filter({ from: '2000-01-01T00:00', to: '2000-01-02T00:00' }, []);
    await filter({ from: '2000-01-01T00:00', to: '2100-01-01T00:00' }, [failLogId, successLogId]);
    await filter({ from: '2100-01-01T00:00' }, []);
    await filter({ errorKind: 'http_5xx' }, [failLogId]);
    assert.deepEqual(await logIds('error_kind=http_5xx'), [failLogId]);
    await filter({ errorKind: 'timeout' }, []);
    await filter({ objectId: '77' }, [failLogId]);
    await filter({ objectId: '4242', status: 'success' }, [successLogId]);
    await page.click('#logs-reset');
    await waitForRows(page, '#logs-table', [failLogId, successLogId]);
  });

  it('retries a failed delivery from the logs', async () => {
    failing.responder = () => ({ status: 200 });
    const page = await signIn(t.adminKey);
    await page.goto(`${t.url}/console#/logs`);
    await waitForRows(page, '#logs-table', [failLogId, successLogId]);
    assert.equal(await page.locator(`tr[data-id="${failLogId}"] [data-action="retry"]`).count(), 1, 'retry offered on the failed delivery');
    assert.equal(await page.locator(`tr[data-id="${successLogId}"] [data-action="retry"]`).count(), 0);

    await page.click(`#logs-table tr[data-id="${failLogId}"] [data-action="details"]`);
    await page.locator('#retry-delivery').waitFor();
    assert.match((await page.textContent('#delivery-state'))!, /: failed, 1 attempt$/);
    assert.match((await page.textContent('#log-response'))!, /down for maintenance/);
    await screenshot(page, '10-failed-delivery');
    await page.click('#retry-delivery');
    await page.locator('.notice', { hasText: 'queued for one more attempt' }).waitFor();

    const retried = await eventually(async () => {
      const items = (await api('get', `/api/v1/handlers/${payments.id}/execution-logs`)).body.items as Json[];
      return items.length === 2 ? items[0] : undefined;
    });
    assert.deepEqual([retried.status, retried.trigger, retried.attempt], ['success', 'manual', 2]);
    await page.click('.toolbar-actions button:has-text("Refresh")');
    await page.locator('#delivery-state', { hasText: 'succeeded, 2 attempts' }).waitFor();
    assert.equal(await page.locator('#retry-delivery').count(), 0);
    await page.click('.tabs a[href="#/logs"]');
    await waitForRows(page, '#logs-table', [retried.id, failLogId, successLogId]);
    assert.equal(await page.locator('#logs-table [data-action="retry"]').count(), 0, 'no retry left to offer');
    assert.equal((await cells(page, `#logs-table tr[data-id="${retried.id}"]`))[1], 'Success');
  });

  it('shows the cache manager and refreshes it', async () => {
    const page = await signIn(t.adminKey);
    await page.click('.tabs a[href="#/cache"]');
    await page.locator('#cache-count').waitFor();
    const before = (await api('get', '/api/v1/cache')).body;
    assert.equal(before.handler_count, 3, 'CRM, DIDs and payments are enabled');
    assert.equal(await page.textContent('#cache-count .stat-value'), '3');
    await page.click('#cache-refresh');
    await page.locator('.notice', { hasText: 'Cache reloaded: 3 handlers' }).waitFor();
    const after = (await api('get', '/api/v1/cache')).body;
    assert.ok(Date.parse(after.refreshed_at) > Date.parse(before.refreshed_at), 'the refresh reloaded the cache');
    const shown = after.refreshed_at.slice(0, 19).replace('T', ' ');
    assert.equal(await page.textContent('#cache-refreshed .stat-value'), shown);
    await screenshot(page, '11-cache-manager');
  });

  it('edits a handler with the form: a masked header keeps its value, archiving hides it', async () => {
    const page = await signIn(t.adminKey);
    await page.click(`tr[data-id="${crm.id}"] [data-action="edit"]`);
    await page.locator('#handler-form').waitFor();
    assert.equal(await page.inputValue('#f-name'), 'CRM: new clients');
    assert.equal(await page.inputValue('#f-event'), 'clients.create');
    assert.equal(await page.inputValue('#f-priority'), '1');
    const headers = await page.$$eval('.header-row', (rows) =>
      rows.map((row) => [row.querySelector('.header-name').value as string, row.querySelector('.header-value').value as string]),
    );
    assert.deepEqual(headers, [['X-Tenant', 'north'], ['X-Api-Token', '********']]);
    await page.fill('#f-name', 'CRM: clients');
    await page.selectOption('#f-stage', 'before');
    await page.selectOption('#f-on_failure', 'allow');
    await screenshot(page, '12-edit-form');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    const edited = (await api('get', `/api/v1/handlers/${crm.id}`)).body;
    assert.deepEqual([edited.name, edited.stage, edited.on_failure], ['CRM: clients', 'before', 'allow']);
    const stored = await t.app.get(DataSource).getRepository(HandlerEntity).findOneByOrFail({ id: crm.id });
    assert.deepEqual(stored.headers, { 'X-Tenant': 'north', 'X-Api-Token': 'tok-123' });
    await page.locator(`tr[data-id="${crm.id}"] .handler-name`, { hasText: 'CRM: clients' }).waitFor();

    await page.click(`tr[data-id="${crm.id}"] [data-action="edit"]`);
    await page.selectOption('#f-stage', 'after');
    await page.selectOption('#f-status', 'archived');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    await waitForRows(page, '#handlers-table', [payments.id, dids.id]);
    assert.equal((await api('get', `/api/v1/handlers/${crm.id}`)).body.status, 'archived');
  });

  it('sets target authentication with the form: the secret is write-only and shown as set', async () => {
    const page = await signIn(t.adminKey);
    await page.click(`tr[data-id="${payments.id}"] [data-action="edit"]`);
    await page.locator('#handler-form').waitFor();
    assert.equal(await page.inputValue('#f-auth-type'), '');
    assert.equal(await page.isVisible('#f-cert'), false, 'the client certificate is for https handlers');
    await page.selectOption('#f-auth-type', 'bearer');
    await page.fill('#f-auth-bearer-token', 'ledger-token-0123456789');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    assert.deepEqual((await api('get', `/api/v1/handlers/${payments.id}`)).body.auth, { type: 'bearer', has_secret: true });

    // Opened again: the token is not sent back; the input says one is set, and a save without touching it keeps it.
    await page.click(`tr[data-id="${payments.id}"] [data-action="edit"]`);
    await page.locator('#handler-form').waitFor();
    assert.equal(await page.inputValue('#f-auth-type'), 'bearer');
    assert.equal(await page.inputValue('#f-auth-bearer-token'), '');
    assert.match((await page.getAttribute('#f-auth-bearer-token', 'placeholder')) ?? '', /^set/);
    assert.ok(!(await page.content()).includes('ledger-token-0123456789'), 'the page holds the token');
    await page.selectOption('#f-type', 'https');
    assert.equal(await page.isVisible('#f-cert'), true);
    await page.selectOption('#f-type', 'http');
    await screenshot(page, '12b-target-authentication');
    await page.fill('#f-name', 'Payments ledger (bearer)');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    const stored = await t.app.get(DataSource).getRepository(HandlerEntity).findOneByOrFail({ id: payments.id });
    // The token is stored sealed (src/secrets/secret-box.ts); it opens to what the form sent.
    assert.match(stored.authSecret!, /^enc:v1:/);
    assert.deepEqual([stored.name, stored.auth, t.app.get(SecretBox).open(stored.authSecret!)], ['Payments ledger (bearer)', { type: 'bearer' }, 'ledger-token-0123456789']);

    // A bad edit shows the API's message at the auth section.
    await page.click(`tr[data-id="${payments.id}"] [data-action="edit"]`);
    await page.selectOption('#f-auth-type', 'basic');
    await page.fill('#f-auth-basic-username', 'ledger');
    await page.click('#handler-save');
    await page.locator('#f-auth-error', { hasText: 'password' }).waitFor();
    await page.click('#handler-form button:has-text("Cancel")');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
  });

  it('deletes a handler only after confirmation', async () => {
    const page = await signIn(t.adminKey);
    await page.click(`tr[data-id="${dids.id}"] [data-action="delete"]`);
    await page.locator('dialog.confirm', { hasText: 'Softswitch DIDs' }).waitFor();
    await screenshot(page, '13-delete-confirmation');
    await page.click('dialog.confirm button.cancel');
    await page.locator('dialog.confirm').waitFor({ state: 'detached' });
    assert.equal((await api('get', `/api/v1/handlers/${dids.id}`)).status, 200, 'cancel keeps the handler');

    await page.click(`tr[data-id="${dids.id}"] [data-action="delete"]`);
    await page.click('dialog.confirm button.confirm-delete');
    await waitForRows(page, '#handlers-table', [payments.id]);
    assert.equal((await api('get', `/api/v1/handlers/${dids.id}`)).status, 404);
  });

  it('shows a read-only key no edit controls', async () => {
    // A delivery that failed for good, so that an admin would be offered a retry.
    failing.responder = () => ({ status: 503, body: 'maintenance' });
    await api('post', '/api/v1/events', { event: 'accounting.payments.create', object_id: 78, data: { id: 78, amount: 5 } });
    const failedAgain = await eventually(async () => {
      const items = (await api('get', `/api/v1/handlers/${payments.id}/execution-logs?status=fail`)).body.items as Json[];
      return items.find((log) => log.object_id === 78);
    });
    const adminPage = await signIn(t.adminKey);
    await adminPage.goto(`${t.url}/console#/logs?status=fail`);
    await adminPage.locator(`tr[data-id="${failedAgain.id}"] [data-action="retry"]`).waitFor();

    // The same handler offers an admin the secret and the test send.
    await adminPage.goto(`${t.url}/console#/handlers`);
    await adminPage.locator(`tr[data-id="${payments.id}"] [data-action="secret"]`).waitFor();
    assert.equal(await adminPage.locator(`tr[data-id="${payments.id}"] [data-action="test"]`).count(), 1);

    const page = await signIn(await t.key('read'));
    assert.equal(await page.textContent('#scopes'), 'read · read-only');
    await waitForRows(page, '#handlers-table', [payments.id]);
    assert.equal(await page.locator('#new-handler').count(), 0);
    assert.equal(await page.locator('button.status-toggle').count(), 0);
    assert.equal(await page.getAttribute(`tr[data-id="${payments.id}"] .status-icon`, 'data-status'), 'enabled');
    assert.equal(await page.locator('[data-action="edit"], [data-action="delete"]').count(), 0);
    assert.equal(await page.locator(`tr[data-id="${payments.id}"] [data-action="logs"]`).count(), 1, 'logs stay readable');
    assert.equal(await page.locator('[data-action="secret"], [data-action="test"]').count(), 0, 'no secret or test send for a read key');
    await screenshot(page, '14-read-only-handlers');

    await page.goto(`${t.url}/console#/logs?status=fail`);
    await page.locator(`#logs-table tr[data-id="${failedAgain.id}"]`).waitFor();
    assert.equal(await page.locator('[data-action="retry"]').count(), 0);
    await page.goto(`${t.url}/console#/logs/${failedAgain.id}`);
    await page.locator('#log-payload').waitFor();
    assert.match((await page.textContent('#delivery-state'))!, /: failed, 1 attempt$/);
    assert.equal(await page.locator('#retry-delivery').count(), 0);
    await screenshot(page, '15-read-only-log-detail');
    await page.goto(`${t.url}/console#/cache`);
    await page.locator('#cache-count').waitFor();
    assert.equal(await page.locator('#cache-refresh').count(), 0);

    const eventsOnly = await newPage();
    await eventsOnly.fill('#api-key', await t.key('events'));
    await eventsOnly.click('form.signin button[type=submit]');
    await eventsOnly.locator('h1', { hasText: 'Not a console key' }).waitFor();
    assert.equal(await eventsOnly.locator('#handlers-table').count(), 0);
  });
  it('reveals the signing secret on demand, hides it again, and rotates it after a confirmation', async () => {
    const page = await signIn(t.adminKey);
    const before = (await api('get', `/api/v1/handlers/${payments.id}/secret`)).body as Json;
    assert.match(before.signing_secret, /^whsec_/);
    await page.click(`tr[data-id="${payments.id}"] [data-action="secret"]`);
    await page.locator('dialog.secret-dialog #reveal-secret').waitFor();
    assert.equal(await page.locator('#signing-secret').isVisible(), false, 'hidden until asked for');
    assert.ok(!(await page.content()).includes(before.signing_secret), 'not in the page before Reveal');

    await page.click('#reveal-secret');
    await page.locator('#signing-secret', { hasText: before.signing_secret }).waitFor();
    assert.equal(await page.textContent('#reveal-secret'), 'Hide');
    await screenshot(page, '16-secret-revealed');
    await page.click('#reveal-secret');
    await page.locator('#signing-secret').waitFor({ state: 'hidden' });
    assert.ok(!(await page.content()).includes(before.signing_secret), 'Hide takes the secret out of the page');

    // Cancel changes nothing.
    await page.click('#rotate-secret');
    const confirm = page.locator('dialog.rotate-confirm');
    await confirm.waitFor();
    assert.match((await confirm.textContent())!, /previous secret keeps signing too for the overlap period/);
    await screenshot(page, '17-rotate-confirmation');
    await page.click('dialog.rotate-confirm button.cancel');
    await confirm.waitFor({ state: 'detached' });
    assert.equal((await api('get', `/api/v1/handlers/${payments.id}/secret`)).body.signing_secret, before.signing_secret);

    await page.click('#rotate-secret');
    await page.click('dialog.rotate-confirm button.confirm-rotate');
    await page.locator('#rotation-result').waitFor();
    const after = (await api('get', `/api/v1/handlers/${payments.id}/secret`)).body as Json;
    assert.notEqual(after.signing_secret, before.signing_secret);
    assert.equal(after.previous_secret, before.signing_secret);
    assert.equal(await page.textContent('#signing-secret'), after.signing_secret, 'the new secret is shown');
    // The page runs in UTC (timezoneId above), so the date shown is the answer's, to the second.
    const until = (after.previous_secret_expires_at as string).slice(0, 19).replace('T', ' ');
    assert.match((await page.textContent('#rotation-result'))!, new RegExp(`previous one keeps signing until ${until}`));
    assert.equal(await page.textContent('#previous-secret'), `The previous secret also signs until ${until}.`);
    assert.ok(!(await page.content()).includes(before.signing_secret), 'the previous secret itself is not shown');
    await screenshot(page, '18-secret-rotated');
    await page.click('dialog.secret-dialog .dialog-actions button');
    await page.locator('dialog.secret-dialog').waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(after.signing_secret), 'nothing of the secret stays once the dialog closes');
  });

  it('test-sends to a handler and shows the resulting log row: status, response code, duration, error', async () => {
    const target = new TestReceiver(() => ({ status: 202, body: '{"accepted":true}' }));
    await target.start();
    try {
      const created = (await api('post', '/api/v1/handlers', { name: 'Test target', event: 'dids.*', type: 'http', task: target.task('/try'), priority: 5 })).body as Json;
      const page = await signIn(t.adminKey);
      await page.click(`tr[data-id="${created.id}"] [data-action="test"]`);
      await page.locator('dialog.test-dialog #test-result').waitFor();
      const [call] = await target.waitFor(1);
      assert.equal(call!.path, '/try');
      const logs = (await api('get', `/api/v1/handlers/${created.id}/execution-logs`)).body.items as Json[];
      assert.equal(logs.length, 1);
      const log = logs[0]!;
      assert.deepEqual([log.trigger, log.status, log.response_code], ['test', 'success', 202]);
      // Signed with the handler's secret, as a delivery would be.
      const secret = (await api('get', `/api/v1/handlers/${created.id}/secret`)).body.signing_secret as string;
      assert.doesNotThrow(() => new Webhook(secret).verify(call!.body, call!.headers as Record<string, string>));

      const facts = async () => {
        const text = (await page.$$eval('#test-result dt, #test-result dd', (items) => items.map((item) => String(item.innerText).trim()))) as string[];
        return Object.fromEntries(text.flatMap((value, i) => (i % 2 === 0 ? [[value, text[i + 1]]] : [])));
      };
      assert.equal(await page.getAttribute('#test-result', 'data-log-id'), String(log.id));
      assert.deepEqual(await facts(), {
        Status: 'Success',
        'Response code': '202',
        Duration: `${log.duration_ms} ms`,
        Error: '—',
        Event: log.event,
        'Execution log': `${log.id} (payload and answer)`,
      });
      await screenshot(page, '19-test-send');
      await page.click('#test-log-link');
      await page.locator('dialog.test-dialog').waitFor({ state: 'detached' });
      await page.locator('#log-payload').waitFor();
      assert.deepEqual(JSON.parse((await page.textContent('#log-payload'))!), JSON.parse(call!.body), 'the log row holds what the receiver got');

      // A failing receiver: the same dialog with the failure. The payments handler's previous
      // secret is still within its overlap, so the call carries both signatures.
      failing.responder = () => ({ status: 503, body: 'maintenance' });
      const sent = failing.requests.length;
      await page.goto(`${t.url}/console#/handlers`);
      await page.click(`tr[data-id="${payments.id}"] [data-action="test"]`);
      await page.locator('dialog.test-dialog #test-result').waitFor();
      const failed = ((await api('get', `/api/v1/handlers/${payments.id}/execution-logs`)).body.items as Json[])[0]!;
      assert.deepEqual([failed.trigger, failed.status, failed.response_code], ['test', 'fail', 503]);
      assert.ok(failed.error, 'a failed call has an error');
      const shown = await facts();
      assert.deepEqual([shown.Status, shown['Response code'], shown.Duration, shown.Error], ['Fail', '503', `${failed.duration_ms} ms`, failed.error]);
      await screenshot(page, '20-test-send-failed');
      const request = failing.requests[sent]!;
      assert.equal(String(request.headers['webhook-signature']).split(' ').length, 2, 'current and previous secret both sign during the overlap');
    } finally {
      await target.stop();
    }
  });

  it('pages the execution logs with Older / Newer / Newest and counts them only when asked', async () => {
    // 120 calls of one (made-up) handler id, written as the dispatcher writes them.
    const HANDLER = 424242;
    const logs = t.app.get(ExecutionLogsService);
    await logs.insert(
      Array.from({ length: 120 }, (_, n) => logRecord({ eventType: 'clients.update', handlerId: HANDLER, handlerName: 'paged', objectId: n })),
    );
    const all = await logIds(`handler_id=${HANDLER}&limit=500`);
    assert.equal(all.length, 120);

    const page = await signIn(t.adminKey);
    await page.goto(`${t.url}/console#/logs?handler_id=${HANDLER}`);
    await waitForRows(page, '#logs-table', all.slice(0, 50));
    assert.match((await page.textContent('#logs-summary'))!, /^50 calls on this page, newest first/);
    assert.equal(await page.locator('#logs-count-result').count(), 0, 'no total unless asked');
    assert.equal(await page.locator('#logs-newer').count(), 0);
    assert.equal(await page.locator('#logs-newest').count(), 0);
    await page.click('#logs-older');
    await waitForRows(page, '#logs-table', all.slice(50, 100));
    await page.click('#logs-older');
    await waitForRows(page, '#logs-table', all.slice(100));
    assert.equal(await page.locator('#logs-older').count(), 0, 'the last page has no Older');
    await screenshot(page, '21-logs-last-page');
    await page.click('#logs-newer');
    await waitForRows(page, '#logs-table', all.slice(50, 100));
    await page.click('#logs-newest');
    await waitForRows(page, '#logs-table', all.slice(0, 50));
    await page.click('#logs-count');
    await page.locator('#logs-count-result').waitFor();
    assert.equal(await page.textContent('#logs-count-result'), '120 calls match');

    // An edited cursor in the address: back to the newest calls, with a word why.
    await page.goto(`${t.url}/console#/logs?handler_id=${HANDLER}&cursor=edited`);
    await page.locator('#notices .notice-error', { hasText: 'no longer applies' }).waitFor();
    await page.waitForURL((url) => url.hash === `#/logs?handler_id=${HANDLER}`);
    await waitForRows(page, '#logs-table', all.slice(0, 50));

    // A search (two filters no one index answers) looks at a window of calls per page and says how far back it looked.
    const window = logs.searchWindowRows;
    logs.searchWindowRows = 40;
    try {
      await page.goto(`${t.url}/console#/logs?handler_id=${HANDLER}&status=fail`);
      await page.locator('#logs-search-window').waitFor();
      assert.match((await page.textContent('#logs-search-window'))!, /^This page searched the calls back to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(at most 40 a page\); Older searches on\.$/);
      assert.equal(await page.textContent('#logs-table tbody'), 'No calls match.');
      await page.click('#logs-older');
      await page.locator('#logs-newer').waitFor();
      assert.equal(await page.locator('#logs-search-window').count(), 1, 'the second window ends short as well');
    } finally {
      logs.searchWindowRows = window;
    }

    // A call whose event retention removed meanwhile: its payload can no longer be shown, and the page says why.
    const orphan = await logs.insert([logRecord({ eventId: 987654321, handlerId: HANDLER, handlerName: 'paged', requestPayload: null, status: 'fail', error: 'receiver answered 503', errorKind: 'http_5xx' })]);
    await page.goto(`${t.url}/console#/logs/${orphan}`);
    await page.locator('#log-payload').waitFor();
    assert.equal(await page.textContent('#log-payload'), 'No longer available: the event was removed by retention before this call was.');
    assert.match((await page.textContent('#log-facts'))!, /Errorreceiver answered 503 \(http 5xx\)/);
  });

  it('lists the audit trail: who changed what, filters, "More" paging, and no secret on the page', async () => {
    // 120 changes of one (made-up) key, written as the service writes them.
    const KEY = 424242;
    const audit = t.app.get(AuditStore);
    for (let n = 0; n < 120; n++) {
      await audit.record({ actor: { type: 'api_key', keyId: KEY, name: 'paged' }, action: 'cache.refresh', targetId: null, after: { handler_count: n, version: n } });
    }
    const auditIds = async (query: string) => ((await api('get', `/api/v1/audit?${query}&limit=500`)).body.items as Json[]).map((row) => row.id as number);
    const paged = await auditIds(`actor_key_id=${KEY}`);
    assert.equal(paged.length, 120);

    const page = await signIn(t.adminKey);
    await page.click('.tabs a[href="#/audit"]');
    await page.locator('#audit-table').waitFor();
    await page.goto(`${t.url}/console#/audit?actor_key_id=${KEY}`);
    await waitForRows(page, '#audit-table', paged.slice(0, 50));
    assert.equal(await page.textContent('#audit-summary'), '50 changes shown, newest first');
    await page.click('#audit-more');
    await waitForRows(page, '#audit-table', paged.slice(0, 100));
    await page.click('#audit-more');
    await waitForRows(page, '#audit-table', paged);
    assert.equal(await page.locator('#audit-more').isVisible(), false, 'no More after the last page');
    assert.equal(await page.textContent('#audit-summary'), '120 changes, newest first');
    const seeded = await cells(page, `#audit-table tr[data-id="${paged[0]}"]`);
    assert.deepEqual(seeded.slice(2, 7), [`${KEY} · paged`, '—', 'cache.refresh', 'cache', 'created Records']);

    // The rotation made through the console earlier, found with the form: who, from where, what changed, masked.
    await page.click('#audit-reset');
    await waitForRows(page, '#audit-table', (await auditIds('')).slice(0, 50));
    await page.selectOption('#audit-action', 'handler.secret_rotate');
    await page.click('#audit-search');
    const rotations = await auditIds('action=handler.secret_rotate');
    assert.ok(rotations.length >= 1);
    await waitForRows(page, '#audit-table', rotations);
    const row = await cells(page, `#audit-table tr[data-id="${rotations[0]}"]`);
    assert.equal(row[2], '1 · bootstrap (BOOTSTRAP_ADMIN_KEY)');
    assert.match(row[3]!, /^127\.0\.0\.1 \S+$/, 'the address and the request id');
    assert.equal(row[4], 'handler.secret_rotate');
    assert.equal(row[5], `handler ${payments.id}`);
    assert.match(row[6]!, /previous_secret: null → "\*{8}"/);
    await page.click(`#audit-table tr[data-id="${rotations[0]}"] details summary`);
    await page.locator(`#audit-table tr[data-id="${rotations[0]}"] .audit-after`).waitFor();
    const secrets = (await api('get', `/api/v1/handlers/${payments.id}/secret`)).body as Json;
    const content = await page.content();
    for (const secret of [secrets.signing_secret, secrets.previous_secret]) assert.ok(!content.includes(secret.replace(/^whsec_/, '')), 'no signing secret on the page');
    await screenshot(page, '22-audit');

    // A record's link lists every change to it, newest first.
    await page.click(`#audit-table tr[data-id="${rotations[0]}"] td:nth-child(6) a`);
    await waitForRows(page, '#audit-table', await auditIds(`target_type=handler&target_id=${payments.id}`));
    assert.equal(await page.inputValue('#audit-target-id'), String(payments.id));
    const actions = await page.$$eval('#audit-table tbody tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-action')));
    assert.equal(actions.at(-1), 'handler.create');

    // Only admin keys see the tab.
    const reader = await signIn(await t.key('read'));
    assert.equal(await reader.locator('.tabs a[href="#/audit"]').count(), 0);
  });

  it("shows and edits a handler's payload filter: JSON checked in the page, the API's position shown, saved, cleared", async () => {
    const filtered = (await api('post', '/api/v1/handlers', { name: 'Company 3 imports', event: 'importd.*', type: 'http', task: receiver.task('/imports'), filter: { 'data.companies_id': 3 } })).body;
    const page = await signIn(t.adminKey);
    await page.locator(`tr[data-id="${filtered.id}"] [data-filter]`).waitFor();
    assert.match((await page.getAttribute(`tr[data-id="${filtered.id}"] [data-filter]`, 'title'))!, /"data\.companies_id":3/);
    await page.click(`tr[data-id="${filtered.id}"] [data-action="edit"]`);
    await page.locator('#handler-form').waitFor();
    assert.deepEqual(JSON.parse(await page.inputValue('#f-filter')), { 'data.companies_id': 3 });

    await page.fill('#f-filter', '{"data.companies_id": ');
    await page.click('#handler-save');
    await page.locator('[data-error-for="filter"] .error-line').waitFor();
    assert.match((await page.textContent('[data-error-for="filter"]'))!, /not valid JSON/);

    const wrong = { $or: [{ 'data.companies_id': 3 }, { 'data.balance': { $regex: '^-' } }] };
    const refusal = await api('patch', `/api/v1/handlers/${filtered.id}`, { filter: wrong });
    assert.equal(refusal.body.code, 'INVALID_FILTER');
    await page.fill('#f-filter', JSON.stringify(wrong));
    await page.click('#handler-save');
    await page.locator('[data-error-for="filter"] .error-line').waitFor();
    assert.match((await page.textContent('[data-error-for="filter"]'))!, /\$or\[1\]\.data\.balance\.\$regex/);
    await screenshot(page, '22-filter-error');

    await page.fill('#f-filter', '{"data.companies_id": {"$in": [3, 4]}}');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    assert.deepEqual((await api('get', `/api/v1/handlers/${filtered.id}`)).body.filter, { 'data.companies_id': { $in: [3, 4] } });

    await page.click(`tr[data-id="${filtered.id}"] [data-action="edit"]`);
    await page.fill('#f-filter', '');
    await page.click('#handler-save');
    await page.locator('#handler-form').waitFor({ state: 'detached' });
    assert.equal((await api('get', `/api/v1/handlers/${filtered.id}`)).body.filter, null);
    await page.locator(`tr[data-id="${filtered.id}"] [data-filter]`).waitFor({ state: 'detached' });
    assert.equal((await api('delete', `/api/v1/handlers/${filtered.id}`)).status, 204);
  });
  it('pauses a handler and schedules a window, shows paused apart from disabled, the circuit and the limits; a retried call links to the next attempt', async () => {
    const created = await api('post', '/api/v1/handlers', { name: 'Switch north', event: 'dids.block', type: 'http', task: receiver.task('/north') });
    assert.equal(created.status, 201);
    const id = created.body.id as number;
    const page = await signIn(t.adminKey);
    const row = `#handlers-table tr[data-id="${id}"]`;
    await page.locator(row).waitFor();
    assert.equal(await page.locator(`${row} [data-flow]`).count(), 0, 'nothing to say while it runs freely');

    await page.click(`${row} [data-action="pause"]`);
    await page.locator('#pause-state', { hasText: 'Not paused (status enabled)' }).waitFor();
    await page.fill('#pause-reason', 'switch upgrade');
    await page.click('#pause-now');
    await page.locator('#pause-state', { hasText: 'Paused since' }).waitFor();
    assert.match((await page.textContent('#pause-state'))!, /until resumed \(switch upgrade\)\. Its deliveries are held/);
    await page.fill('#window-from', '2099-01-01T02:00');
    await page.fill('#window-to', '2099-01-01T04:00');
    await page.fill('#window-reason', 'monthly');
    await page.click('#add-window');
    await page.locator('#windows-list li[data-window]').waitFor();
    await screenshot(page, '22-pause-dialog');
    await page.click('.pause-dialog .dialog-actions button');
    await page.locator(`${row} [data-flow]`, { hasText: 'paused until resumed · switch upgrade' }).waitFor();
    const view = (await api('get', `/api/v1/handlers/${id}`)).body;
    assert.deepEqual([view.status, view.paused.reason, view.maintenance_windows.length], ['enabled', 'switch upgrade', 1]);

    await page.click(`${row} [data-action="pause"]`);
    await page.click('#resume-now');
    await page.locator('#pause-state', { hasText: 'Not paused' }).waitFor();
    await page.click(`#windows-list li[data-window] button`);
    await page.locator('#windows-list li', { hasText: 'No maintenance window scheduled.' }).waitFor();
    await page.click('.pause-dialog .dialog-actions button');
    await page.waitForFunction((selector) => !document.querySelectorAll(`${selector} [data-flow]`).length, row);

    // The circuit as a worker leaves it when it opens; the limits through the edit form.
    await t.app.get(DataSource).query("UPDATE handlers SET circuit_state = 'open', circuit_since = ?, circuit_retry_at = ?, circuit_reason = 'receiver answered 503' WHERE id = ?", [
      Date.now(),
      Date.now() + 30_000,
      id,
    ]);
    await page.click(`${row} [data-action="edit"]`);
    await page.fill('#f-max_concurrency', '3');
    await page.fill('#f-rate_limit', '10');
    await page.selectOption('#f-rate_period', 'minute');
    await page.click('#handler-save');
    await page.locator(`${row} [data-flow]`, { hasText: 'circuit open' }).waitFor();
    assert.match((await page.textContent(`${row} [data-flow]`))!, /circuit open probe at .* · ≤ 3 at once, 10\/min$/);
    await screenshot(page, '23-handler-flow');
    const edited = (await api('get', `/api/v1/handlers/${id}`)).body;
    assert.deepEqual([edited.max_concurrency, edited.rate_limit, edited.rate_period, edited.circuit.state], [3, 10, 'minute', 'open']);

    // The failed call retried earlier (see 'retries a failed delivery from the logs') links to its next attempt.
    const calls = (await api('get', `/api/v1/handlers/${payments.id}/execution-logs`)).body.items as Json[];
    const first = calls.find((call) => call.id === failLogId);
    const retried = calls.find((call) => call.delivery_id === first!.delivery_id && call.attempt === 2);
    assert.ok(first && retried, JSON.stringify(calls.map((call) => [call.id, call.delivery_id, call.attempt])));
    await page.goto(`${t.url}/console#/logs/${first!.id}`);
    await page.locator('#next-attempt').waitFor();
    assert.equal(await page.textContent('#next-attempt'), `Execution log ${retried!.id}: attempt 2, success`);
    assert.equal(await page.textContent('#log-attempts'), '1 fail · 2 success');
    await page.click('#next-attempt');
    await page.locator('h1', { hasText: `Execution log ${retried!.id}` }).waitFor();
    assert.equal(await page.locator('#next-attempt').count(), 0, 'the last attempt has no next');
  });
});
