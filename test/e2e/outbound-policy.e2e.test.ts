import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachDatabase } from '../utils/suite.js';
import { bearer, TestApp } from '../utils/test-app.js';
import { TestReceiver } from '../utils/receiver.js';
import { TestDnsServer } from '../utils/dns-server.js';
import { handlerBody } from '../factories/handler.factory.js';
import { firstLogOf, postEvent } from '../factories/event.factory.js';

/** Posts one event and waits for the execution log of its one call. */
async function deliverOnce(t: TestApp, event: string, objectId: number): Promise<{ status: string; error: string | null }> {
  return firstLogOf(t, (await postEvent(t, { event, object_id: objectId })).id);
}

/** Saves a handler of `event` calling `task`, as it is (the answer is checked by each test). */
const saveHandler = (t: TestApp, event: string, task: string) =>
  t.http.post('/api/v1/handlers').set(bearer(t.adminKey)).send(handlerBody({ name: task, event, task, retry_limit: 0 }));

// Each case configures its own policy: a fresh database and app per case (t.restart).
forEachDatabase('outbound network policy', { start: false, env: { RETRY_SCHEDULE: '100ms', DISPATCH_POLL_INTERVAL_MS: '50' } }, (t) => {
  let r: TestReceiver;
  let dns: TestDnsServer;

  before(async () => {
    // Every answer closes its connection, so each call dials (and resolves) afresh.
    r = await t.receiver(() => ({ status: 200, headers: { connection: 'close' } }));
    dns = await new TestDnsServer().start();
    t.cleanup(() => dns.stop());
  });
  const restart = (env: Record<string, string>) => t.restart({ OUTBOUND_DNS_SERVERS: dns.address, ...env });

  it('by default refuses the metadata address at save, and a name resolving to it at connect time', async () => {
    const app = await restart({});
    const literal = await saveHandler(app, 'dids.create', '169.254.169.254/latest/meta-data');
    assert.equal(literal.status, 400);
    assert.equal(literal.body.code, 'TARGET_FORBIDDEN');
    assert.deepEqual(literal.body.details.map((d: { field: string }) => d.field), ['task']);

    dns.set('metadata.attacker.test', '169.254.169.254');
    const named = await saveHandler(app, 'dids.create', 'metadata.attacker.test/latest/meta-data');
    assert.equal(named.status, 201, 'a name is judged when it is dialled, not when it is saved');
    const log = await deliverOnce(app, 'dids.create', 1);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /metadata\.attacker\.test resolves to 169\.254\.169\.254.*OUTBOUND_DENY_NETWORKS/);
    assert.ok(dns.queries.some((q) => q.name === 'metadata.attacker.test'), 'the configured resolver was asked');
  });

  it('loopback and private targets are allowed by default; a name re-pointed at the metadata address is refused on the next call', async () => {
    const app = await restart({});
    dns.set('switch.test', '127.0.0.1');
    const saved = await saveHandler(app, 'dids.activate', `switch.test:${r.port}/hook`);
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const before = r.requests.length;
    assert.equal((await deliverOnce(app, 'dids.activate', 2)).status, 'success');
    assert.equal(r.requests.length, before + 1);

    dns.set('switch.test', '169.254.169.254'); // DNS rebinding after the handler was saved and used
    const log = await deliverOnce(app, 'dids.activate', 3);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /169\.254\.169\.254/);
    assert.equal(r.requests.length, before + 1, 'the refused call reached nobody');
  });

  it('a name resolving to both a good and a denied address is refused', async () => {
    const app = await restart({});
    dns.set('mixed.test', '127.0.0.1', '169.254.169.254');
    assert.equal((await saveHandler(app, 'dids.block', `mixed.test:${r.port}/hook`)).status, 201);
    const before = r.requests.length;
    const log = await deliverOnce(app, 'dids.block', 4);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /169\.254\.169\.254/);
    assert.equal(r.requests.length, before);
  });

  it('strict mode refuses loopback at save (literal) and at connect (name), saying why', async () => {
    const app = await restart({ OUTBOUND_MODE: 'strict' });
    const literal = await saveHandler(app, 'dids.hold', r.task());
    assert.equal(literal.status, 400);
    assert.equal(literal.body.code, 'TARGET_FORBIDDEN');
    assert.match(literal.body.message, /strict mode/);

    dns.set('softswitch.test', '127.0.0.1');
    assert.equal((await saveHandler(app, 'dids.hold', `softswitch.test:${r.port}/hook`)).status, 201);
    const before = r.requests.length;
    const log = await deliverOnce(app, 'dids.hold', 5);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /softswitch\.test resolves to 127\.0\.0\.1.*strict mode/);
    assert.equal(r.requests.length, before);
  });

  it('refuses at save every IPv6 form that embeds the metadata address, and a name resolving to one at connect time', async () => {
    const app = await restart({});
    const forms = [
      '64:ff9b::a9fe:a9fe', // NAT64 well-known prefix
      '64:ff9b:1::a9fe:a9fe', // NAT64 local-use prefix
      '2002:a9fe:a9fe::', // 6to4
      '::a9fe:a9fe', // IPv4-compatible
      '::ffff:169.254.169.254', // IPv4-mapped
      '::ffff:0:a9fe:a9fe', // IPv4-translated
      '2001:0:4136:e378:8000:63bf:5601:5601', // Teredo, client = NOT 5601:5601
    ];
    for (const form of forms) {
      const saved = await saveHandler(app, 'dids.update', `http://[${form}]:8080/hook`);
      assert.equal(saved.status, 400, `${form}: ${JSON.stringify(saved.body)}`);
      assert.equal(saved.body.code, 'TARGET_FORBIDDEN', form);
      assert.match(saved.body.message, /169\.254\.169\.254/, form);
    }
    // The same forms around a public address are saved: the refusal is about what they embed.
    const publicForm = await saveHandler(app, 'dids.update', 'http://[64:ff9b::808:808]:8080/hook');
    assert.equal(publicForm.status, 201, JSON.stringify(publicForm.body));
    await app.http.delete(`/api/v1/handlers/${publicForm.body.id}`).set(bearer(app.adminKey)).expect(204);

    dns.set('nat64.attacker.test', '64:ff9b::a9fe:a9fe');
    assert.equal((await saveHandler(app, 'dids.update', 'nat64.attacker.test/hook')).status, 201);
    const log = await deliverOnce(app, 'dids.update', 7);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /nat64\.attacker\.test resolves to 64:ff9b::a9fe:a9fe.*169\.254\.169\.254/);
  });

  it('in strict mode the allow list opens the operator\'s own network, never the metadata address', async () => {
    const app = await restart({ OUTBOUND_MODE: 'strict', OUTBOUND_ALLOW_NETWORKS: '127.0.0.1/32, 169.254.0.0/16' });
    const switchHandler = await saveHandler(app, 'dids.archive', r.task());
    assert.equal(switchHandler.status, 201, JSON.stringify(switchHandler.body));
    const before = r.requests.length;
    assert.equal((await deliverOnce(app, 'dids.archive', 6)).status, 'success');
    assert.equal(r.requests.length, before + 1);

    const metadata = await saveHandler(app, 'dids.archive', '169.254.169.254/latest');
    assert.equal(metadata.status, 400);
    assert.equal(metadata.body.code, 'TARGET_FORBIDDEN');
    assert.match(metadata.body.message, /OUTBOUND_DENY_NETWORKS/);
  });
});
