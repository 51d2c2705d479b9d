import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAbsolute, resolve } from 'node:path';

import { DEFAULT_DENIED_NETWORKS, loadConfig, parseDatabaseUrl } from '../../src/config/app-config.js';
import { ConfigError, type EnvInput } from '../../src/config/environment.js';

/** Runs loadConfig expecting a ConfigError; returns it. */
function configError(env: EnvInput): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

const VALID_KEY = 'A'.repeat(40);

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('listens on port 3000', () => {
    assert.equal(config.http.port, 3000);
  });

  it('uses a sqlite file under ./data, resolved to an absolute path', () => {
    assert.equal(config.database.type, 'sqlite');
    assert.ok(config.database.type === 'sqlite');
    assert.ok(isAbsolute(config.database.path), config.database.path);
    assert.equal(config.database.path, resolve('data', 'provisioning.sqlite'));
  });

  it('refreshes the cache every 5 minutes', () => {
    assert.equal(config.cache.refreshCron, '*/5 * * * *');
  });

  it('looks for pauses that began or ended every 5 seconds', () => {
    assert.equal(config.pauses.checkCron, '*/5 * * * * *');
    assert.equal(loadConfig({ PAUSE_CHECK_CRON: '*/30 * * * * *' }).pauses.checkCron, '*/30 * * * * *');
  });

  it('disables script handlers', () => {
    assert.equal(config.scripts.enabled, false);
  });

  it('logs at level "log"', () => {
    assert.equal(config.log.level, 'log');
  });

  it('denies the default networks and sets no allow list', () => {
    assert.deepEqual([...config.outbound.deny], [...DEFAULT_DENIED_NETWORKS]);
    assert.ok(config.outbound.deny.includes('169.254.0.0/16'));
    assert.ok(config.outbound.deny.includes('fe80::/10'));
    assert.deepEqual([...config.outbound.allow], []);
  });

  it('has no bootstrap admin key', () => {
    assert.equal(config.auth.bootstrapAdminKey, undefined);
  });

  it('returns a frozen object', () => {
    assert.ok(Object.isFrozen(config));
  });
});

describe('loadConfig accepted values', () => {
  it('reads PORT as a number', () => {
    assert.equal(loadConfig({ PORT: '8080' }).http.port, 8080);
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({
      PORT: '',
      DATABASE_URL: '   ',
      CACHE_REFRESH_CRON: '',
      LOG_LEVEL: ' ',
      SCRIPT_HANDLERS_ENABLED: '',
      OUTBOUND_DENY_NETWORKS: '',
      BOOTSTRAP_ADMIN_KEY: '',
    });
    assert.equal(config.http.port, 3000);
    assert.equal(config.database.type, 'sqlite');
    assert.equal(config.cache.refreshCron, '*/5 * * * *');
    assert.equal(config.log.level, 'log');
    assert.equal(config.scripts.enabled, false);
    assert.deepEqual([...config.outbound.deny], [...DEFAULT_DENIED_NETWORKS]);
    assert.equal(config.auth.bootstrapAdminKey, undefined);
  });

  it('gives {type: mysql} for a mysql:// URL, unchanged', () => {
    const url = 'mysql://user:pw@db.local:3306/provisioning';
    assert.deepEqual(loadConfig({ DATABASE_URL: url }).database, { type: 'mysql', flavor: 'mysql', url });
  });

  it('gives the mariadb flavor for a mariadb:// URL, rewritten to mysql:// for the driver', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'mariadb://user:pw@db.local:3306/provisioning' }).database, {
      type: 'mysql',
      flavor: 'mariadb',
      url: 'mysql://user:pw@db.local:3306/provisioning',
    });
  });

  it('parses sqlite::memory: as an in-memory database', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { type: 'sqlite', path: ':memory:' });
  });

  it('resolves a relative sqlite path to an absolute one', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:./tmp/x.sqlite' }).database, {
      type: 'sqlite',
      path: resolve('tmp', 'x.sqlite'),
    });
  });

  for (const value of ['true', '1']) {
    it(`enables script handlers with SCRIPT_HANDLERS_ENABLED=${value}`, () => {
      assert.equal(loadConfig({ SCRIPT_HANDLERS_ENABLED: value }).scripts.enabled, true);
    });
  }

  for (const value of ['false', '0']) {
    it(`keeps script handlers off with SCRIPT_HANDLERS_ENABLED=${value}`, () => {
      assert.equal(loadConfig({ SCRIPT_HANDLERS_ENABLED: value }).scripts.enabled, false);
    });
  }

  for (const [url, value, expected] of [
    ['sqlite:./tmp/x.sqlite', undefined, true],
    ['mariadb://root@127.0.0.1:3306/x', undefined, false],
    ['mysql://root@127.0.0.1:3306/x', undefined, false],
    ['sqlite:./tmp/x.sqlite', 'false', false],
    ['sqlite:./tmp/x.sqlite', '0', false],
    ['mariadb://root@127.0.0.1:3306/x', 'true', true],
    ['mariadb://root@127.0.0.1:3306/x', '1', true],
  ] as const) {
    it(`DISPATCH_CALL_THREAD=${value ?? '(unset)'} on ${url.split(':')[0]} ${expected ? 'sends calls from the call thread' : 'keeps calls on the service thread'}`, () => {
      assert.equal(loadConfig({ DATABASE_URL: url, DISPATCH_CALL_THREAD: value }).dispatch.callThread, expected);
    });
  }

  it('refuses another DISPATCH_CALL_THREAD value, naming the variable', () => {
    assert.throws(() => loadConfig({ DISPATCH_CALL_THREAD: 'yes' }), /DISPATCH_CALL_THREAD/);
  });

  it('accepts a custom cron, log level and sync interval', () => {
    const config = loadConfig({ CACHE_REFRESH_CRON: '0 * * * *', LOG_LEVEL: 'debug', CACHE_SYNC_INTERVAL_MS: '500' });
    assert.equal(config.cache.refreshCron, '0 * * * *');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.cache.syncIntervalMs, 500);
  });

  it('replaces the default deny list with OUTBOUND_DENY_NETWORKS, normalised', () => {
    const config = loadConfig({ OUTBOUND_DENY_NETWORKS: '10.0.0.0/8, 192.168.1.5' });
    assert.deepEqual([...config.outbound.deny], ['10.0.0.0/8', '192.168.1.5/32']);
  });

  it('reads OUTBOUND_ALLOW_NETWORKS', () => {
    assert.deepEqual([...loadConfig({ OUTBOUND_ALLOW_NETWORKS: '10.0.0.0/8' }).outbound.allow], ['10.0.0.0/8']);
  });

  it('chooses the outbound mode: open by default, allowlist when an allow list is given, strict on request', () => {
    assert.equal(loadConfig({}).outbound.mode, 'open');
    assert.equal(loadConfig({ OUTBOUND_ALLOW_NETWORKS: '10.0.0.0/8' }).outbound.mode, 'allowlist');
    assert.equal(loadConfig({ OUTBOUND_MODE: 'strict', OUTBOUND_ALLOW_NETWORKS: '10.0.0.0/8' }).outbound.mode, 'strict');
    assert.match(configError({ OUTBOUND_MODE: 'allowlist' }).message, /OUTBOUND_MODE: allowlist needs OUTBOUND_ALLOW_NETWORKS/);
  });

  it('reads OUTBOUND_DNS_SERVERS as addresses with optional ports', () => {
    assert.deepEqual([...loadConfig({ OUTBOUND_DNS_SERVERS: '10.0.0.53, 127.0.0.1:5353,[::1]:53' }).outbound.dnsServers], [
      '10.0.0.53',
      '127.0.0.1:5353',
      '[::1]:53',
    ]);
  });

  it('has ingest limits with safe defaults; the data limit never exceeds the body limit', () => {
    const defaults = loadConfig({}).ingest;
    assert.deepEqual({ ...defaults }, { maxBatchEvents: 500, maxDataBytes: 65536, rateLimit: 10000, rateWindowMs: 1000 });
    assert.equal(loadConfig({ MAX_DATA_BYTES: '2000000', BODY_LIMIT_BYTES: '100000' }).ingest.maxDataBytes, 100000);
    assert.equal(loadConfig({ INGEST_RATE_LIMIT: '0' }).ingest.rateLimit, 0);
  });

  it('reads INSTANCE_ROLE; on SQLite too (one instance at a time, enforced at start by a lock)', () => {
    assert.equal(loadConfig({}).dispatch.role, 'both');
    assert.equal(loadConfig({ INSTANCE_ROLE: 'api' }).dispatch.role, 'api');
    assert.equal(loadConfig({ INSTANCE_ROLE: 'worker', DATABASE_URL: 'mysql://root@127.0.0.1:3306/x' }).dispatch.role, 'worker');
  });

  it('keeps every audit row unless AUDIT_RETENTION is set', () => {
    assert.equal(loadConfig({}).audit.retentionMs, 0);
    assert.equal(loadConfig({ AUDIT_RETENTION: '0' }).audit.retentionMs, 0);
    assert.equal(loadConfig({ AUDIT_RETENTION: '400d' }).audit.retentionMs, 400 * 86_400_000);
    assert.equal(loadConfig({ AUDIT_RETENTION: '24h' }).audit.retentionMs, 86_400_000);
  });

  it('bounds payload filters: 4096 bytes and 10 levels unless FILTER_MAX_BYTES and FILTER_MAX_DEPTH say otherwise', () => {
    assert.deepEqual(loadConfig({}).filters, { maxBytes: 4096, maxDepth: 10 });
    assert.deepEqual(loadConfig({ FILTER_MAX_BYTES: '16384', FILTER_MAX_DEPTH: '3' }).filters, { maxBytes: 16384, maxDepth: 3 });
  });

  it('keeps a valid BOOTSTRAP_ADMIN_KEY', () => {
    assert.equal(loadConfig({ BOOTSTRAP_ADMIN_KEY: VALID_KEY }).auth.bootstrapAdminKey, VALID_KEY);
  });
});

describe('loadConfig rejects bad values, naming the variable', () => {
  const cases: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['DATABASE_URL', 'postgres://x'],
    ['CACHE_REFRESH_CRON', 'not a cron'],
    ['CACHE_SYNC_INTERVAL_MS', '9000'],
    ['SCRIPT_HANDLERS_ENABLED', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['OUTBOUND_DENY_NETWORKS', '10.0.0.0/33'],
    ['OUTBOUND_ALLOW_NETWORKS', 'not-an-ip'],
    // an empty prefix must not silently become /0 (allow every IPv4 address)
    ['OUTBOUND_ALLOW_NETWORKS', '10.0.0.0/'],
    ['BOOTSTRAP_ADMIN_KEY', 'short'],
    ['OUTBOUND_MODE', 'paranoid'],
    ['OUTBOUND_DNS_SERVERS', 'dns.example.com'],
    ['OUTBOUND_DNS_SERVERS', '127.0.0.1:99999'],
    ['MAX_BATCH_EVENTS', '0'],
    ['MAX_BATCH_EVENTS', '20000'],
    ['MAX_DATA_BYTES', '10'],
    ['INGEST_RATE_LIMIT', '-1'],
    ['INGEST_RATE_WINDOW_MS', '5'],
    ['INSTANCE_ROLE', 'everything'],
    ['PAUSE_CHECK_CRON', 'every 5 seconds'],
    ['AUDIT_RETENTION', 'a year'],
    // shorter than a day: refused rather than an audit trail that forgets today's changes
    ['AUDIT_RETENTION', '12h'],
    // A filter must fit the TEXT column on MySQL/MariaDB (16 KiB at most) and be worth matching.
    ['FILTER_MAX_BYTES', '20000'],
    ['FILTER_MAX_BYTES', '10'],
    ['FILTER_MAX_DEPTH', '1'],
    ['FILTER_MAX_DEPTH', '100'],
  ];
  for (const [name, value] of cases) {
    it(`${name}=${JSON.stringify(value)}`, () => {
      const error = configError({ [name]: value });
      assert.match(error.message, new RegExp(`\\b${name}\\b`));
      assert.ok(error.problems.some((problem) => problem.includes(name)), error.problems.join(' | '));
    });
  }

  it('names every bad class-validated variable at once', () => {
    const error = configError({ PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://x', CACHE_SYNC_INTERVAL_MS: '9000' });
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'CACHE_SYNC_INTERVAL_MS']) {
      assert.match(error.message, new RegExp(`\\b${name}\\b`));
    }
  });

  it('names the cron and network variables together', () => {
    const error = configError({ CACHE_REFRESH_CRON: 'not a cron', OUTBOUND_DENY_NETWORKS: '10.0.0.0/33' });
    assert.match(error.message, /CACHE_REFRESH_CRON/);
    assert.match(error.message, /OUTBOUND_DENY_NETWORKS/);
  });

  it('names every bad variable at once, including the cron and the network lists', () => {
    // loadConfig's contract: "throws ConfigError naming every bad variable".
    const error = configError({
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      CACHE_REFRESH_CRON: 'not a cron',
      OUTBOUND_DENY_NETWORKS: '10.0.0.0/33',
    });
    for (const name of ['PORT', 'LOG_LEVEL', 'CACHE_REFRESH_CRON', 'OUTBOUND_DENY_NETWORKS']) {
      assert.match(error.message, new RegExp(`\\b${name}\\b`), `${name} missing from: ${error.message}`);
    }
  });

  it('never echoes the BOOTSTRAP_ADMIN_KEY value', () => {
    const secret = `${'s3cretKeyMaterial'.repeat(3)} ${'moreSecret'.repeat(3)}`;
    const error = configError({ BOOTSTRAP_ADMIN_KEY: secret });
    assert.match(error.message, /BOOTSTRAP_ADMIN_KEY/);
    for (const text of [error.message, error.problems.join('\n'), String(error.stack)]) {
      assert.ok(!text.includes(secret), 'the full key value leaked');
      assert.ok(!text.includes('s3cretKeyMaterial'), 'part of the key value leaked');
      assert.ok(!text.includes('moreSecret'), 'part of the key value leaked');
    }
  });

  it('is a ConfigError that is also an Error', () => {
    const error = configError({ PORT: 'abc' });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ConfigError');
  });
});

describe('log format', () => {
  it('is text by default and JSON in production unless LOG_FORMAT says otherwise', () => {
    assert.equal(loadConfig({}).log.format, 'text');
    assert.equal(loadConfig({ NODE_ENV: 'production' }).log.format, 'json');
    assert.equal(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'text' }).log.format, 'text');
  });
});

describe('loadConfig flow control per handler', () => {
  it('caps a handler at half of DISPATCH_CONCURRENCY by default, and at least 1', () => {
    assert.equal(loadConfig({}).dispatch.handlerMaxConcurrency, 8);
    assert.equal(loadConfig({ DISPATCH_CONCURRENCY: '128' }).dispatch.handlerMaxConcurrency, 64);
    assert.equal(loadConfig({ DISPATCH_CONCURRENCY: '1' }).dispatch.handlerMaxConcurrency, 1);
    assert.equal(loadConfig({ HANDLER_MAX_CONCURRENCY: '3' }).dispatch.handlerMaxConcurrency, 3);
  });

  it('opens a circuit after 10 failures in a row, for 30 s doubling up to 10 min, unless told otherwise', () => {
    const rateOff = { failureRate: 0, rateWindowMs: 60_000, rateMinCalls: 20 };
    assert.deepEqual({ ...loadConfig({}).dispatch.circuit }, { failureThreshold: 10, cooldownMs: 30_000, cooldownMaxMs: 600_000, ...rateOff });
    assert.deepEqual(
      { ...loadConfig({ CIRCUIT_FAILURE_THRESHOLD: '0', CIRCUIT_COOLDOWN: '1m', CIRCUIT_COOLDOWN_MAX: '1h' }).dispatch.circuit },
      { failureThreshold: 0, cooldownMs: 60_000, cooldownMaxMs: 3_600_000, ...rateOff },
    );
    assert.equal(loadConfig({ CIRCUIT_COOLDOWN: '20m' }).dispatch.circuit.cooldownMaxMs, 1_200_000, 'the longest is never shorter than the first');
  });

  it('turns the failure-rate rule on only when CIRCUIT_FAILURE_RATE is a fraction above 0, with its window and fewest calls', () => {
    const on = loadConfig({ CIRCUIT_FAILURE_RATE: '0.5', CIRCUIT_RATE_WINDOW: '2m', CIRCUIT_RATE_MIN_CALLS: '50' }).dispatch.circuit;
    assert.deepEqual([on.failureRate, on.rateWindowMs, on.rateMinCalls, on.failureThreshold], [0.5, 120_000, 50, 10], 'the rule in a row stays on beside it');
    assert.equal(loadConfig({ CIRCUIT_FAILURE_RATE: '1' }).dispatch.circuit.failureRate, 1);
    assert.equal(loadConfig({ CIRCUIT_FAILURE_RATE: '.25' }).dispatch.circuit.failureRate, 0.25);
    assert.equal(loadConfig({ CIRCUIT_FAILURE_RATE: '0' }).dispatch.circuit.failureRate, 0, '0 is off');
    assert.equal(loadConfig({ CIRCUIT_FAILURE_RATE: '0.33333' }).dispatch.circuit.failureRate, 0.3333, 'four decimal places');
    for (const bad of ['1.5', '-0.1', '50%', 'half', '0.00001', '1e-1']) {
      assert.match(configError({ CIRCUIT_FAILURE_RATE: bad }).message, /CIRCUIT_FAILURE_RATE: must be/, bad);
    }
    assert.match(configError({ CIRCUIT_RATE_WINDOW: '500ms' }).message, /CIRCUIT_RATE_WINDOW: must be at least 1s/);
    assert.match(configError({ CIRCUIT_RATE_WINDOW: 'a while' }).message, /CIRCUIT_RATE_WINDOW: Invalid duration/);
    for (const bad of ['0', '1.5', '100001']) assert.match(configError({ CIRCUIT_RATE_MIN_CALLS: bad }).message, /CIRCUIT_RATE_MIN_CALLS/, bad);
  });

  it('names every bad flow-control variable', () => {
    const error = configError({ HANDLER_MAX_CONCURRENCY: '0', CIRCUIT_FAILURE_THRESHOLD: '-1', CIRCUIT_COOLDOWN: 'soon', CIRCUIT_COOLDOWN_MAX: '0' });
    for (const name of ['HANDLER_MAX_CONCURRENCY', 'CIRCUIT_FAILURE_THRESHOLD', 'CIRCUIT_COOLDOWN', 'CIRCUIT_COOLDOWN_MAX']) {
      assert.ok(error.problems.some((problem) => problem.startsWith(name)), `${name}: ${error.problems.join('; ')}`);
    }
    assert.match(configError({ CIRCUIT_COOLDOWN: '5m', CIRCUIT_COOLDOWN_MAX: '1m' }).message, /CIRCUIT_COOLDOWN_MAX: must not be shorter than CIRCUIT_COOLDOWN/);
  });
});
