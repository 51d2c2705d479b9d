import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { databaseKinds, TestDatabase } from '../utils/databases.js';
import { eventually, TestReceiver } from '../utils/receiver.js';
import { api, killAll, Running, startService, stopService } from '../utils/service-process.js';

/**
 * OpenTelemetry: the compiled service, with the standard OTEL_* variables pointing at a local
 * OTLP/HTTP receiver (JSON), continues the posting request's W3C trace into the webhook call and
 * exports the spans of one event (ingest, claim, call, record) in that same trace. Without the
 * variables nothing is exported and the target gets no traceparent.
 */

const kinds = await databaseKinds();

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

/** Every span in the OTLP/HTTP JSON export requests the receiver has seen. */
function spansOf(collector: TestReceiver): ExportedSpan[] {
  const spans: ExportedSpan[] = [];
  for (const request of collector.requests) {
    if (request.path !== '/v1/traces') continue;
    const body = JSON.parse(request.body) as { resourceSpans?: { scopeSpans?: { spans?: ExportedSpan[] }[] }[] };
    for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
  }
  return spans;
}

for (const kind of kinds) {
  describe(`tracing: one trace from the posting request to the target [${kind.name}]`, { skip: kind.skip }, () => {
    let db: TestDatabase | undefined;
    let cwd: string;
    let target: TestReceiver;
    let collector: TestReceiver;
    let service: Running | undefined;
    const key = `trace_admin_${randomBytes(16).toString('hex')}`;

    before(async () => {
      cwd = mkdtempSync(join(tmpdir(), 'prov-trace-'));
      target = await new TestReceiver(() => ({ status: 200, body: '{"ok":true}' })).start();
      collector = await new TestReceiver(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' })).start();
      db = await kind.create();
    });

    after(async () => {
      await killAll();
      await target?.stop();
      await collector?.stop();
      await db?.drop();
      rmSync(cwd, { recursive: true, force: true });
    });

    it('the target receives a traceparent of the posting request\'s trace; the collector gets ingest, claim, call and record in it', { timeout: 60_000 }, async () => {
      service = await startService('traced', cwd, {
        DATABASE_URL: db!.url,
        BOOTSTRAP_ADMIN_KEY: key,
        ADMIN_KEY_FILE: join(cwd, 'admin-key.txt'),
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${collector.port}/v1/traces`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        OTEL_SERVICE_NAME: 'provisioning-test',
      });
      const handler = await api(service, key, 'POST', '/api/v1/handlers', {
        name: 'traced receiver',
        event: 'clients.update',
        type: 'http',
        task: target.task('/traced'),
        priority: 1,
      });
      assert.equal(handler.status, 201, JSON.stringify(handler.body));

      const traceId = randomBytes(16).toString('hex');
      const parentId = randomBytes(8).toString('hex');
      const posted = await fetch(`${service.baseUrl}/api/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${parentId}-01` },
        body: JSON.stringify({ event: 'clients.update', object_id: 7, data: { id: 7, name: 'Traced client' } }),
      });
      assert.equal(posted.status, 202, await posted.text());

      await eventually(() => (target.requests.length === 1 ? true : undefined), 20_000, 'the webhook call');
      const header = String(target.requests[0]!.headers.traceparent ?? '');
      const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header);
      assert.ok(match, `the target got traceparent "${header}"`);
      assert.equal(match[1], traceId, 'the webhook call continues the posting request\'s trace');
      assert.notEqual(match[2], parentId, 'the call is a span of its own, not the caller\'s');

      await eventually(() => {
        const names = new Set(spansOf(collector).filter((span) => span.traceId === traceId).map((span) => span.name));
        return ['ingest', 'claim', 'call', 'record'].every((name) => names.has(name)) ? true : undefined;
      }, 20_000, 'the spans of the event');
      const spans = spansOf(collector).filter((span) => span.traceId === traceId);
      const byId = new Map(spans.map((span) => [span.spanId, span]));
      const shown = spans.map((span) => `${span.name}:${span.spanId}<${span.parentSpanId ?? '-'}`).join(', ');
      const one = (name: string) => {
        const found = spans.filter((span) => span.name === name);
        assert.equal(found.length, 1, `one ${name} span (${shown})`);
        return found[0]!;
      };
      // posting request → server span (http instrumentation) → ingest → claim, call, record; call → the undici client span the target saw.
      const server = spans.find((span) => span.parentSpanId === parentId);
      assert.ok(server, `a span of the service is a child of the posting request's span (${shown})`);
      const ingest = one('ingest');
      assert.equal(ingest.parentSpanId, server.spanId, shown);
      for (const name of ['claim', 'call', 'record']) assert.equal(one(name).parentSpanId, ingest.spanId, `${name} under ingest (${shown})`);
      const client = byId.get(match[2]!);
      assert.ok(client, `the span the target saw (${match[2]}) was exported (${shown})`);
      assert.equal(client.parentSpanId, one('call').spanId, `the HTTP client span is a child of call (${shown})`);
      assert.equal(await stopService(service), 0);
    });

    it('without OTEL_* variables: no export, no traceparent sent', { timeout: 60_000 }, async () => {
      const before = collector.requests.length;
      target.requests.length = 0;
      service = await startService('untraced', cwd, {
        DATABASE_URL: db!.url,
        BOOTSTRAP_ADMIN_KEY: key,
        ADMIN_KEY_FILE: join(cwd, 'admin-key-2.txt'),
      });
      const posted = await fetch(`${service.baseUrl}/api/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` },
        body: JSON.stringify({ event: 'clients.update', object_id: 8, data: { id: 8, name: 'Untraced client' } }),
      });
      assert.equal(posted.status, 202, await posted.text());
      await eventually(() => (target.requests.length === 1 ? true : undefined), 20_000, 'the webhook call');
      assert.equal(target.requests[0]!.headers.traceparent, undefined);
      assert.equal(await stopService(service), 0);
      assert.equal(collector.requests.length, before, 'nothing was exported');
    });
  });
}
