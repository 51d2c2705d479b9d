import { before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { forEachDatabase } from '../utils/suite.js';
import { keyHeaders } from '../factories/key.factory.js';
import { postHandler } from '../factories/handler.factory.js';
import { postEvent, waitUntilSettled } from '../factories/event.factory.js';
import { bearer } from '../utils/test-app.js';
import { eventually } from '../utils/receiver.js';


/** Output kept per call in this suite (RESPONSE_BODY_CAP_BYTES): small, so the cap is easy to see. */
const CAP = 100;

type Headers = Record<string, string>;
interface LogRow {
  id: number;
  status: string;
  attempt: number;
  stage: string;
  trigger: string;
  event: string;
  object_id: number;
  response_code: number | null;
  response_data: string | null;
  error: string | null;
  duration_ms: number;
}

/** Writes an executable script (mode 0755). */
function script(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o755 });
}

/**
 * Processes still alive (/proc, zombies excluded: they have ended and only wait for their
 * parent to collect them) whose command line contains `marker`.
 */
function liveProcessesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (args.includes(marker) && state !== 'Z') found.push(`${pid} ${state} ${args}`);
    } catch {
      /* ended while listing */
    }
  }
  return found;
}

/** Lines of `ps -eo pid,args` that contain any of the markers (never the ps itself). */
function processesWith(markers: string[]): string[] {
  const listing = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return listing.split('\n').filter((line) => markers.some((marker) => line.includes(marker)));
}

const executorSuite = {
  prepare() {
    root = mkdtempSync(join(tmpdir(), 'prov-exec-'));
    scripts = join(root, 'scripts');
    out = join(root, 'out');
    mkdirSync(scripts);
    mkdirSync(out);
    // Scripts run as nobody (SCRIPT_RUN_AS_USER): it must reach them (mkdtemp makes 0700
    // folders) and write the files these tests read back.
    chmodSync(root, 0o755);
    chmodSync(scripts, 0o755);
    chmodSync(out, 0o777);
    // The app runs in this process: the service's own environment holds the marker; scripts must not.
    process.env.SECRET_MARKER = secret;
  },
  env: () => ({
    SCRIPT_HANDLERS_ENABLED: 'true',
    SCRIPT_RUN_AS_USER: 'nobody',
    SCRIPTS_DIR: scripts,
    RETRY_SCHEDULE: '100ms',
    DISPATCH_POLL_INTERVAL_MS: '50',
    RESPONSE_BODY_CAP_BYTES: String(CAP),
  }),
};
let root: string;
let scripts: string;
let out: string;
const secret = `secret-${randomBytes(8).toString('hex')}`;

forEachDatabase('script executor: real scripts run by the dispatcher', executorSuite, (t) => {
  let internal: Headers;
  let admin: Headers;
  let events: Headers;
  let objectId = 5000;
  const previousSecret = process.env.SECRET_MARKER;

  before(async () => {
    internal = await keyHeaders(t, 'internal');
    admin = bearer(t.adminKey);
    events = await keyHeaders(t, 'events');
  });
  t.cleanup(() => {
    rmSync(root, { recursive: true, force: true });
    if (previousSecret === undefined) delete process.env.SECRET_MARKER;
    else process.env.SECRET_MARKER = previousSecret;
  });

  const nextObject = () => ++objectId;
  const createScript = (body: Record<string, unknown>) => postHandler(t, { name: `script ${String(body.task)}`, type: 'script', priority: 10, ...body }, internal);
  const post = (body: Record<string, unknown>) => postEvent(t, body, events);
  const settled = (id: number) => waitUntilSettled(t, id, { headers: admin, atLeastOneDelivery: true });
  const logsOf = async (handlerId: number): Promise<LogRow[]> => {
    const response = await t.http.get(`/api/v1/execution-logs?handler_id=${handlerId}`).set(admin);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.items as LogRow[];
  };
  const runTest = async (handlerId: number): Promise<LogRow & { request_payload: string }> => {
    const response = await t.http.post(`/api/v1/handlers/${handlerId}/test`).set(internal).send({});
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  };

  it('a shell script gets the envelope on stdin; its stdout is the response data, exit code 0 the response code', async () => {
    const stdinCopy = join(out, 'sh-stdin.json');
    script(
      join(scripts, 'echo.sh'),
      [
        '#!/bin/sh',
        'input=$(cat)',
        `printf '%s' "$input" > '${stdinCopy}'`,
        `events_id=$(printf '%s' "$input" | sed -n 's/.*"events_id":"\\([^"]*\\)".*/\\1/p')`,
        `object_id=$(printf '%s' "$input" | sed -n 's/.*"object_id":\\([0-9]*\\).*/\\1/p')`,
        `printf 'sh %s %s' "$events_id" "$object_id"`,
        '',
      ].join('\n'),
    );
    const h = await createScript({ event: 'clients.create', task: 'echo.sh' });
    const id = nextObject();
    const data = { id, name: 'Shell client', tags: ['vip'] };
    const accepted = await post({ event: 'clients.create', object_id: id, dt: '2026-11-22T10:15:30+00:00', data });
    assert.deepEqual(accepted.deliveries.map((d) => d.handler_id), [h.id]);
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'succeeded', JSON.stringify(state.deliveries[0]));
    assert.equal(state.deliveries[0].attempts, 1);

    const [log, ...rest] = await logsOf(h.id);
    assert.equal(rest.length, 0);
    assert.equal(log!.status, 'success');
    assert.equal(log!.response_code, 0);
    assert.equal(log!.response_data, `sh clients.create ${id}`);
    assert.equal(log!.error, null);
    assert.equal(log!.stage, 'after');
    assert.deepEqual(JSON.parse(readFileSync(stdinCopy, 'utf8')), {
      event: { dt: '2026-11-22T10:15:30+00:00', events_id: 'clients.create', object_id: id },
      data,
    });
  });

  it('a Node script (#!/usr/bin/env node) gets the envelope on stdin and answers on stdout', async () => {
    const stdinCopy = join(out, 'node-stdin.json');
    script(
      join(scripts, 'echo-node.cjs'),
      [
        '#!/usr/bin/env node',
        'const chunks = [];',
        "process.stdin.on('data', (chunk) => chunks.push(chunk));",
        "process.stdin.on('end', () => {",
        "  const text = Buffer.concat(chunks).toString('utf8');",
        `  require('node:fs').writeFileSync(${JSON.stringify(stdinCopy)}, text);`,
        '  const envelope = JSON.parse(text);',
        '  process.stdout.write(`node ${envelope.event.events_id} ${envelope.event.object_id} ${envelope.data.name}`);',
        '});',
        '',
      ].join('\n'),
    );
    const h = await createScript({ event: 'clients.update', task: 'echo-node.cjs' });
    const id = nextObject();
    const accepted = await post({ event: 'clients.update', object_id: id, data: { id, name: 'Renamed' } });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'succeeded', JSON.stringify(state.deliveries[0]));

    const [log] = await logsOf(h.id);
    assert.equal(log!.status, 'success');
    assert.equal(log!.response_code, 0);
    assert.equal(log!.response_data, `node clients.update ${id} Renamed`);
    const envelope = JSON.parse(readFileSync(stdinCopy, 'utf8'));
    assert.equal(envelope.event.events_id, 'clients.update');
    assert.equal(envelope.event.object_id, id);
    assert.deepEqual(envelope.data, { id, name: 'Renamed' });
  });

  it('a script exiting 3 fails with "exit code 3" and its stderr, and is retried per RETRY_SCHEDULE', async () => {
    const runs = join(out, 'exit3-runs');
    script(
      join(scripts, 'exit3.sh'),
      ['#!/bin/sh', 'cat >/dev/null', `echo run >> '${runs}'`, "echo 'card declined' >&2", 'exit 3', ''].join('\n'),
    );
    const h = await createScript({ event: 'clients.archive', task: 'exit3.sh', retry_limit: 1 });
    const accepted = await post({ event: 'clients.archive', object_id: nextObject() });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'failed');
    assert.equal(state.deliveries[0].attempts, 2);
    assert.equal(state.deliveries[0].last_response_code, 3);

    const logs = await logsOf(h.id);
    assert.deepEqual(logs.map((l) => `${l.attempt}:${l.status}`), ['2:fail', '1:fail']);
    for (const log of logs) {
      assert.equal(log.response_code, 3);
      assert.match(log.error ?? '', /^exit code 3: card declined$/);
    }
    assert.equal(readFileSync(runs, 'utf8'), 'run\nrun\n', 'the script ran exactly twice');
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(readFileSync(runs, 'utf8'), 'run\nrun\n', 'no third run after the retry limit');
  });

  it('a script past its timeout is killed with its whole process group: no child survives', async () => {
    const tag = randomBytes(3).readUIntBE(0, 3).toString().padStart(8, '1');
    const markers = [`sleep 31.${tag}`, `sleep 32.${tag}`, `prov-marker-${tag}`];
    script(
      join(scripts, 'slow.sh'),
      [
        '#!/bin/sh',
        'cat >/dev/null',
        `sleep 31.${tag} &`,
        `node -e 'setTimeout(() => {}, 60000)' prov-marker-${tag} &`,
        `sleep 32.${tag}`,
        '',
      ].join('\n'),
    );
    const h = await createScript({ event: 'clients.delete', task: 'slow.sh', timeout_ms: 1500 });
    assert.deepEqual(processesWith(markers), [], 'no marker process before the run');

    const started = Date.now();
    const running = runTest(h.id);
    // While it runs, the script and both children are really there (so the check below can fail).
    await eventually(() => (processesWith(markers).length === 3 ? true : undefined), 1400, 'the script and its children running');
    const log = await running;
    const elapsed = Date.now() - started;
    assert.equal(log.status, 'fail');
    assert.equal(log.error, 'timeout after 1500 ms (the script and everything it started killed)');
    assert.ok(elapsed >= 1400 && elapsed < 5000, `the test call took ${elapsed} ms`);

    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(processesWith(markers), [], 'a process of the script survived the timeout');
  });

  it('a timeout ends the call even when a grandchild that left the session with setsid holds stdout, and kills it too', async () => {
    // The script of issue #12 item 8, `setsid sleep 40 & sleep 300`, with a tag in each
    // duration (40.0<tag> is still about 40 s) so /proc can tell its processes from others.
    const tag = randomBytes(3).readUIntBE(0, 3).toString().padStart(8, '1');
    script(join(scripts, 'escape-setsid.sh'), ['#!/bin/sh', `setsid sleep 40.0${tag} &`, `sleep 300.0${tag}`, ''].join('\n'));
    const h = await createScript({ event: 'clients.balance_notzero', task: 'escape-setsid.sh', timeout_ms: 1500, retry_limit: 0 });
    assert.deepEqual(liveProcessesWith(tag), [], 'no process of the script before the run');

    // The test endpoint: bounded here so that a hanging call fails the test instead of stalling it.
    const started = Date.now();
    // (.then sends it now: supertest sends a request only once it is awaited.)
    const running = t.http.post(`/api/v1/handlers/${h.id}/test`).set(internal).send({}).timeout(20_000).then((answer) => answer);
    // Both sleeps really run, the first in a session of its own (so the checks below can fail).
    // Matched on the command itself: `setsid` may fork, and its short-lived parent's command
    // line (`setsid sleep 40.0…`) holds the same words.
    const sleeping = (seconds: string) => liveProcessesWith(tag).filter((line) => line.split(' ')[2] === 'sleep' && line.split(' ')[3] === `${seconds}.0${tag}`);
    await eventually(() => (sleeping('40').length === 1 && sleeping('300').length === 1 ? true : undefined), 1400, 'both sleeps running');
    const escaped = sleeping('40')[0]!.split(' ')[0]!;
    const escapedStat = readFileSync(`/proc/${escaped}/stat`, 'utf8');
    const [, , pgrp, session] = escapedStat.slice(escapedStat.lastIndexOf(')') + 2).split(' ');
    assert.equal(session, escaped, 'the grandchild leads a session of its own');
    assert.equal(pgrp, escaped);
    const response = await running;
    const elapsed = Date.now() - started;
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.status, 'fail');
    assert.match(response.body.error, /^timeout after 1500 ms/);
    assert.ok(elapsed >= 1400 && elapsed < 5000, `the test call took ${elapsed} ms`);
    const [row] = await logsOf(h.id);
    assert.equal(row!.id, response.body.id);
    assert.match(row!.error ?? '', /^timeout after 1500 ms/);
    assert.ok(row!.duration_ms >= 1500 && row!.duration_ms < 5000, `logged ${row!.duration_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(liveProcessesWith(tag), [], 'a process of the script survived the timeout');

    // The same through the queue: the delivery's log row says timeout, and nothing is left.
    const accepted = await post({ event: 'clients.balance_notzero', object_id: nextObject() });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'failed');
    assert.match(state.deliveries[0].last_error ?? '', /^timeout after 1500 ms/);
    const logs = await logsOf(h.id);
    assert.equal(logs.length, 2);
    assert.match(logs[0]!.error ?? '', /^timeout after 1500 ms/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(liveProcessesWith(tag), [], 'a process of the delivered script survived the timeout');
  });

  it(
    'a script that exits 0 leaving a background child is a success at once, and the child goes with its group',
    async () => {
      const tag = randomBytes(3).readUIntBE(0, 3).toString().padStart(8, '1');
      const markers = [`sleep 33.${tag}`];
      script(join(scripts, 'detach.sh'), ['#!/bin/sh', 'cat >/dev/null', `sleep 33.${tag} &`, "printf 'started'", 'exit 0', ''].join('\n'));
      const h = await createScript({ event: 'dids.hold', task: 'detach.sh', timeout_ms: 3000 });
      const log = await runTest(h.id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const survivors = processesWith(markers);
      assert.equal(log.status, 'success', String(log.error));
      assert.equal(log.response_code, 0);
      assert.equal(log.response_data, 'started');
      assert.ok(log.duration_ms < 1500, `the call took ${log.duration_ms} ms for a script that exited at once`);
      assert.deepEqual(survivors, []);
    },
  );

  it('a script that is not executable is refused at save, and fails the call at once if it loses the bit later', async () => {
    writeFileSync(join(scripts, 'plain.sh'), "#!/bin/sh\nprintf 'never'\n", { mode: 0o644 });
    const refused = await t.http.post('/api/v1/handlers').set(internal).send({ name: 'plain', event: 'dids.archive', type: 'script', task: 'plain.sh' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'SCRIPT_NOT_EXECUTABLE');
    chmodSync(join(scripts, 'plain.sh'), 0o755);
    const h = await createScript({ event: 'dids.archive', task: 'plain.sh', timeout_ms: 5000 });
    chmodSync(join(scripts, 'plain.sh'), 0o644);
    const log = await runTest(h.id);
    assert.equal(log.status, 'fail');
    assert.match(log.error ?? '', /could not start the script.*EACCES/);
    assert.equal(log.response_code, null);
    assert.ok(log.duration_ms < 2000, `took ${log.duration_ms} ms`);
  });

  it(`keeps exactly RESPONSE_BODY_CAP_BYTES (${CAP}) of a 10 KB output`, async () => {
    script(
      join(scripts, 'chatty.sh'),
      ['#!/bin/sh', 'cat >/dev/null', 'i=0', "while [ $i -lt 1024 ]; do printf '0123456789'; i=$((i+1)); done", ''].join('\n'),
    );
    const h = await createScript({ event: 'dids.create', task: 'chatty.sh' });
    const log = await runTest(h.id);
    assert.equal(log.status, 'success', String(log.error));
    assert.equal(log.response_code, 0);
    assert.equal(log.response_data!.length, CAP);
    assert.equal(log.response_data, '0123456789'.repeat(CAP / 10));
    const [stored] = await logsOf(h.id);
    assert.equal(stored!.response_data, '0123456789'.repeat(CAP / 10));
  });

  it('drains output far past the cap, so a script writing 300 KB is not blocked on a full pipe', async () => {
    script(join(scripts, 'flood.sh'), ['#!/bin/sh', 'cat >/dev/null', "head -c 307200 /dev/zero | tr '\\000' x", "head -c 307200 /dev/zero | tr '\\000' y >&2", ''].join('\n'));
    const h = await createScript({ event: 'dids.update', task: 'flood.sh', timeout_ms: 5000 });
    const log = await runTest(h.id);
    assert.equal(log.status, 'success', String(log.error));
    assert.equal(log.response_data, 'x'.repeat(CAP));
    assert.ok(log.duration_ms < 4000, `took ${log.duration_ms} ms`);
  });

  const escapes: [string, () => string][] = [
    ['a parent-folder path (../x)', () => '../outside.sh'],
    ['an absolute path outside the folder', () => join(root, 'outside.sh')],
    ['a symlink leading outside', () => 'escape.sh'],
  ];
  for (const [label, task] of escapes) {
    it(`refuses ${label} when saving, with 400 SCRIPT_PATH_OUTSIDE on task`, async () => {
      script(join(root, 'outside.sh'), `#!/bin/sh\necho ran > '${join(out, 'outside-ran')}'\n`);
      if (!existsSync(join(scripts, 'escape.sh'))) symlinkSync(join(root, 'outside.sh'), join(scripts, 'escape.sh'));
      const response = await t.http
        .post('/api/v1/handlers')
        .set(internal)
        .send({ name: 'escape', event: 'dids.activate', type: 'script', task: task() });
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'SCRIPT_PATH_OUTSIDE');
      assert.equal(response.body.details[0].field, 'task');
      const listed = await t.http.get('/api/v1/handlers?event=dids.activate').set(internal);
      assert.equal(listed.body.total, 0);
    });
  }

  it('checks the path again at run time: a file replaced by a symlink to outside is refused and never runs', async () => {
    const marker = join(out, 'evil-ran');
    const evil = join(root, 'evil.sh');
    script(evil, `#!/bin/sh\ncat >/dev/null\necho ran > '${marker}'\n`);
    script(join(scripts, 'swap.sh'), "#!/bin/sh\ncat >/dev/null\nprintf 'inside'\n");
    const h = await createScript({ event: 'dids.stock', task: 'swap.sh' });
    const first = await runTest(h.id);
    assert.equal(first.status, 'success', String(first.error));
    assert.equal(first.response_data, 'inside');

    rmSync(join(scripts, 'swap.sh'));
    symlinkSync(evil, join(scripts, 'swap.sh'));
    const second = await runTest(h.id);
    assert.equal(second.status, 'fail');
    assert.match(second.error ?? '', /SCRIPT_PATH_OUTSIDE/);
    assert.equal(existsSync(marker), false, 'the script outside the folder ran');
    const logs = await logsOf(h.id);
    assert.deepEqual(logs.map((l) => l.status), ['fail', 'success']);
    assert.match(logs[0]!.error ?? '', /SCRIPT_PATH_OUTSIDE/);

    // The outside script does write its marker when it runs: the check above could fail.
    execFileSync(evil, { input: '' });
    assert.equal(existsSync(marker), true);
  });

  it('checks every path segment at run time: a folder replaced by a symlink to outside fails the delivery', async () => {
    const marker = join(out, 'evil-folder-ran');
    mkdirSync(join(scripts, 'tools'));
    script(join(scripts, 'tools', 'run.sh'), "#!/bin/sh\ncat >/dev/null\nprintf 'tool'\n");
    const outsideTools = join(root, 'outside-tools');
    mkdirSync(outsideTools);
    script(join(outsideTools, 'run.sh'), `#!/bin/sh\ncat >/dev/null\necho ran > '${marker}'\n`);
    const h = await createScript({ event: 'dids.block', task: 'tools/run.sh', retry_limit: 0 });

    renameSync(join(scripts, 'tools'), join(scripts, 'tools-old'));
    symlinkSync(outsideTools, join(scripts, 'tools'));
    const accepted = await post({ event: 'dids.block', object_id: nextObject() });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'failed');
    assert.match(state.deliveries[0].last_error ?? '', /SCRIPT_PATH_OUTSIDE/);
    const [log] = await logsOf(h.id);
    assert.equal(log!.status, 'fail');
    assert.match(log!.error ?? '', /SCRIPT_PATH_OUTSIDE/);
    assert.equal(existsSync(marker), false, 'the script outside the folder ran');
  });

  it('runs the script with the minimal environment only (the service process has SECRET_MARKER; the script does not)', async () => {
    const envCopy = join(out, 'env.json');
    script(
      join(scripts, 'env.cjs'),
      [
        '#!/usr/bin/env node',
        "process.stdin.resume();",
        "process.stdin.on('end', () => {",
        `  require('node:fs').writeFileSync(${JSON.stringify(envCopy)}, JSON.stringify(process.env));`,
        "  process.stdout.write('env written');",
        '});',
        '',
      ].join('\n'),
    );
    assert.equal(process.env.SECRET_MARKER, secret, 'the service process has the variable');
    const h = await createScript({ event: 'clients.balance_zero', task: 'env.cjs' });
    const accepted = await post({ event: 'clients.balance_zero', object_id: nextObject() });
    const state = await settled(accepted.id);
    assert.equal(state.deliveries[0].status, 'succeeded', JSON.stringify(state.deliveries[0]));

    const text = readFileSync(envCopy, 'utf8');
    const env = JSON.parse(text) as Record<string, string>;
    assert.ok(!('SECRET_MARKER' in env), 'the script saw SECRET_MARKER');
    assert.ok(!text.includes(secret), 'the script saw the secret value');
    assert.deepEqual(Object.keys(env).sort(), ['LANG', 'PATH', 'PROVISIONING_EVENT', 'PROVISIONING_HANDLER_ID']);
    assert.equal(env.PROVISIONING_EVENT, 'clients.balance_zero');
    assert.equal(env.PROVISIONING_HANDLER_ID, String(h.id));
  });

  it('reads a before-stage script\'s stdout like an HTTP answer: {"allow":false,"reason":"no"} forbids', async () => {
    const runs = join(out, 'gate-runs');
    script(
      join(scripts, 'gate.sh'),
      ['#!/bin/sh', 'cat >/dev/null', `echo run >> '${runs}'`, `printf '{"allow":false,"reason":"no"}'`, ''].join('\n'),
    );
    const h = await createScript({ event: 'dids.reserve', task: 'gate.sh', stage: 'before' });
    const id = nextObject();
    const response = await t.http.post('/api/v1/events/decide').set(events).send({ event: 'dids.reserve', object_id: id, data: { id, did: '442000000001' } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.allowed, false);
    assert.equal(response.body.reason, 'no');
    assert.deepEqual(response.body.decided_by, { id: h.id, name: h.name });
    assert.equal(response.body.calls.length, 1);
    assert.equal(response.body.calls[0].outcome, 'forbidden');
    assert.equal(response.body.calls[0].response_code, 0);
    const [log] = await logsOf(h.id);
    assert.equal(log!.stage, 'before');
    assert.equal(log!.response_data, '{"allow":false,"reason":"no"}');
    assert.equal(readFileSync(runs, 'utf8'), 'run\n');

    // A before handler is not a subscriber: posting the event plans no delivery for it.
    const accepted = await post({ event: 'dids.reserve', object_id: nextObject() });
    assert.deepEqual(accepted.deliveries, []);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(readFileSync(runs, 'utf8'), 'run\n');
  });

  it('a before-stage Node script replaces the data with {"data": …} from stdout', async () => {
    script(
      join(scripts, 'rename.cjs'),
      [
        '#!/usr/bin/env node',
        'const chunks = [];',
        "process.stdin.on('data', (chunk) => chunks.push(chunk));",
        "process.stdin.on('end', () => {",
        "  const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8'));",
        "  process.stdout.write(JSON.stringify({ data: { ...envelope.data, name: envelope.data.name + ' (checked)' } }));",
        '});',
        '',
      ].join('\n'),
    );
    const h = await createScript({ event: 'clients.custom_fields.update', task: 'rename.cjs', stage: 'before' });
    const id = nextObject();
    const response = await t.http
      .post('/api/v1/events/decide')
      .set(events)
      .send({ event: 'clients.custom_fields.update', object_id: id, data: { id, name: 'Acme' } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.allowed, true);
    assert.deepEqual(response.body.data, { id, name: 'Acme (checked)' });
    assert.equal(response.body.calls[0].handler_id, h.id);
    assert.equal(response.body.calls[0].outcome, 'modified');
  });
});

let offRoot: string;
const disabledSuite = {
  prepare() {
    offRoot = mkdtempSync(join(tmpdir(), 'prov-exec-off-'));
    mkdirSync(join(offRoot, 'scripts'));
    script(join(offRoot, 'scripts', 'ok.sh'), '#!/bin/sh\nexit 0\n');
  },
  env: () => ({ SCRIPTS_DIR: join(offRoot, 'scripts') }),
};

forEachDatabase('script executor: scripts disabled in configuration', disabledSuite, (t) => {
  t.cleanup(() => rmSync(offRoot, { recursive: true, force: true }));

  it('refuses to create a script handler with SCRIPT_HANDLERS_DISABLED, even for an internal key', async () => {
    const internal = bearer(await t.key('internal'));
    const response = await t.http
      .post('/api/v1/handlers')
      .set(internal)
      .send({ name: 'off', event: 'clients.create', type: 'script', task: 'ok.sh' });
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.code, 'SCRIPT_HANDLERS_DISABLED');
    assert.equal(response.body.details[0].field, 'type');
    const listed = await t.http.get('/api/v1/handlers').set(bearer(t.adminKey));
    assert.equal(listed.body.total, 0);
  });
});
