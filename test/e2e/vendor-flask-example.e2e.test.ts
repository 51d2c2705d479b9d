import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachDatabase } from '../utils/suite.js';
import { captureOutput } from '../utils/service-process.js';
import { createHandler } from '../factories/handler.factory.js';
import { firstLogOf, postEvent } from '../factories/event.factory.js';

/**
 * The vendor documentation's example handler (a Flask app that echoes the JSON body back),
 * run exactly as published, must work as an `http` handler configured as the vendor shows:
 * event clients.create, task `127.0.0.1:5000/api`.
 */

/** Verbatim from the vendor's Provisioning API article ("Find an example of the http://handler below"). */
const VENDOR_APP_PY = `from flask import Flask, request
import json
app = Flask(__name__)
@app.route("/api", methods=['GET', 'POST'])
def api():
    data = json.loads(request.data)
    return json.dumps(data)
if __name__ == "__main__":
    app.run()
`;

/** Where `app.run()` listens by default. */
const FLASK_HOST = '127.0.0.1';
const FLASK_PORT = 5000;

/** The first Python that can import Flask, or null. */
function findFlaskPython(): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(candidate, ['-c', 'import flask'], { stdio: 'ignore', timeout: 20_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

const python = findFlaskPython();
const NO_FLASK =
  'no Python with Flask found (tried /usr/bin/python3 and python3): install Debian\'s python3-flask ' +
  '(apt-get install python3-flask; .ci/run does this under CI)';
/** Outside CI a machine without Flask skips with the reason; under CI=true the test fails instead. */
const skipReason: string | false = python === null && process.env.CI !== 'true' ? NO_FLASK : false;

/** Resolves true when something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

interface FlaskProcess {
  child: ChildProcess;
  output: () => string;
}

async function startFlask(pythonPath: string, dir: string): Promise<FlaskProcess> {
  if (await accepts(FLASK_HOST, FLASK_PORT)) {
    throw new Error(
      `port ${FLASK_PORT} on ${FLASK_HOST} is already taken: the vendor's example (app.run()) must listen there; stop whatever uses it`,
    );
  }
  writeFileSync(join(dir, 'app.py'), VENDOR_APP_PY);
  const child = spawn(pythonPath, ['app.py'], {
    cwd: dir,
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const started = Date.now();
  while (!(await accepts(FLASK_HOST, FLASK_PORT))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the vendor's Flask example exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
    }
    if (Date.now() - started > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`the vendor's Flask example did not listen on ${FLASK_HOST}:${FLASK_PORT} within 15 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output };
}

async function stopFlask(flask: FlaskProcess): Promise<void> {
  const { child } = flask;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

// One Flask process for the file: app.run() listens on a fixed port.
let dir: string;
let flask: FlaskProcess | undefined;
let startError: Error | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prov-flask-'));
  if (python === null) return;
  try {
    flask = await startFlask(python, dir);
  } catch (error) {
    startError = error as Error;
  }
});

after(async () => {
  if (flask) await stopFlask(flask);
  rmSync(dir, { recursive: true, force: true });
});

forEachDatabase("the vendor's example handler (Flask echo app, unchanged)", { skip: skipReason }, (t) => {
  it('answers a clients.create delivery with 200 and echoes exactly the envelope sent', { timeout: 60_000 }, async () => {
    if (python === null) assert.fail(`CI=true and ${NO_FLASK}`);
    if (startError) throw startError;

    // Exactly as the vendor's "best practice example": Clients Create, task host/api.
    const handler = await createHandler(t, { name: 'Vendor example (Flask)', event: 'clients.create', task: '127.0.0.1:5000/api', priority: 1 });

    const data = {
      id: 4711,
      name: 'Zoë Telecom',
      status: 'active',
      balance: '-12.50',
      tags: ['vip', 'sip'],
      custom_fields: { region: 'EU', priority: 2.5, reseller: null, prepaid: true },
    };
    const posted = await postEvent(t, { event: 'clients.create', object_id: 4711, data });
    const eventId = posted.id;

    const log = await firstLogOf(t, eventId, { timeoutMs: 15_000 }).catch((error: Error) =>
      assert.fail(`${error.message}\nFlask output:\n${flask?.output() ?? ''}`),
    );

    assert.equal(log.status, 'success', `execution log: ${JSON.stringify(log)}\nFlask output:\n${flask?.output() ?? ''}`);
    assert.equal(log.response_code, 200);
    assert.equal(log.handler_id, handler.id);

    const expected = {
      event: { dt: posted.dt, events_id: 'clients.create', object_id: 4711 },
      data,
    };
    assert.equal(typeof log.response_data, 'string', 'the echoed body is logged');
    assert.deepEqual(JSON.parse(log.response_data), expected, 'Flask echoes the envelope it received');

    // And that envelope is the one the service says it sent.
    const detail = await t.http.get(`/api/v1/execution-logs/${log.id}`).set(t.admin);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    assert.deepEqual(JSON.parse(detail.body.request_payload), expected);

    const event = await t.http.get(`/api/v1/events/${eventId}`).set(t.admin);
    assert.deepEqual(
      event.body.deliveries.map((d: { status: string }) => d.status),
      ['succeeded'],
    );
  });
});
