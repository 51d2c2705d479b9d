// Bytes on disk per delivery, of real deliveries: the service (the build BENCH_SERVICE_MAIN
// names, so npm run bench:compare measures an earlier commit and this one alike) takes `events`
// clients.update events with envelopes of 300 to 600 bytes, for `handlers` handlers whose target
// fails one delivery in ten once (503, an nginx error page; the receiver's flaky mode) and takes
// the retry; once every delivery succeeded and every attempt is logged, the service stops and
// the tables and their indexes are measured as the scale part measures them (./scale.mjs
// measureBytes), per 1,000,000 deliveries.
import { adminClient, createDatabase, newKey, queryDatabase, startService } from './service.mjs';
import { measureBytes, open } from './scale.mjs';
import { sleep } from './util.mjs';

const NOTE = 'Changed by operator j.smith through the billing portal, ticket OPS-4821, approved by the account manager. ';

/** A client record whose envelope is 300 to 600 bytes, by the object id. */
export function clientRecord(id) {
  const record = {
    id,
    name: `Client ${id}`,
    company: `Telco Reseller ${id % 97} Ltd`,
    email: `billing-${id}@reseller${id % 97}.example`,
    currencies_id: 1 + (id % 3),
    balance: `${(id % 10_000) / 100}`,
    status: 'active',
    notes: '',
  };
  const target = 300 + ((id * 97) % 300) - 90;
  record.notes = NOTE.repeat(6).slice(0, Math.max(0, target - JSON.stringify(record).length));
  return record;
}

export async function bytesPerDelivery({ kind, serverUrl, receiver, events, handlers, log }) {
  const db = await createDatabase(kind, serverUrl);
  const key = newKey();
  // Retries soon after the failure, so the run waits seconds, not the default schedule's minutes.
  const service = await startService({ databaseUrl: db.url, key, env: { RETRY_SCHEDULE: '200ms', DISPATCH_CONCURRENCY: '64' } });
  let stopped = false;
  try {
    const api = adminClient(service, key);
    for (let i = 1; i <= handlers; i++) {
      await api('POST', '/api/v1/handlers', { name: `bytes ${i}`, event: 'clients.update', type: 'http', task: `127.0.0.1:${receiver.port}/flaky${i}`, priority: i });
    }
    await receiver.ask('reset');
    for (let sent = 0; sent < events; sent += 500) {
      // At most two batches ahead of the deliveries: the queue stays as short as a steady rate
      // keeps it, so the figure does not depend on how far a busy machine let dispatch fall
      // behind (InnoDB keeps the pages a backlog once filled, with the rows gone).
      for (let waited = 0; (await receiver.ask('stats')).count < (sent - 1000) * handlers && waited < 120_000; waited += 50) await sleep(50);
      const batch = [];
      for (let id = sent + 1; id <= Math.min(events, sent + 500); id++) batch.push({ event: 'clients.update', object_id: id, data: clientRecord(id) });
      await api('POST', '/api/v1/events/batch', { events: batch });
    }
    const deliveries = events * handlers;
    let stats = await receiver.ask('stats');
    for (let waited = 0; stats.count < deliveries && waited < 600_000; waited += 250) {
      await sleep(250);
      stats = await receiver.ask('stats');
    }
    if (stats.count < deliveries) throw new Error(`bytes: ${stats.count} of ${deliveries} deliveries arrived within 10 minutes`);
    // Every attempt's log row is written after its answer: wait for the last ones.
    const logs = deliveries + stats.refused;
    for (let waited = 0; waited < 30_000; waited += 250) {
      const [{ n }] = await queryDatabase(db, 'SELECT COUNT(*) AS n FROM execution_logs');
      if (Number(n) >= logs) break;
      await sleep(250);
    }
    await service.stop();
    stopped = true;
    const conn = await open(db);
    try {
      const bytes = await measureBytes(conn, deliveries);
      log(`  ${kind}: ${deliveries} deliveries, ${logs} attempts logged: ${(bytes.perMillionDeliveries / 2 ** 20).toFixed(1)} MiB per 1,000,000 deliveries`);
      return { events, deliveries, attempts: logs, ...bytes };
    } finally {
      await conn.close();
    }
  } finally {
    if (!stopped) await service.stop();
    await db.drop();
  }
}
