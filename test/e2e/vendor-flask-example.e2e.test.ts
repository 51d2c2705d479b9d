import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseKinds } from '../utils/databases.js';
import { eventually } from '../utils/receiver.js';
import { bearer, startApp, TestApp } from '../utils/test-app.js';

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

const kinds = await databaseKinds();

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
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const started = Date.now();
  while (!(await accepts(FLASK_HOST, FLASK_PORT))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the vendor's Flask example exited with ${child.exitCode ?? child.signalCode}:\n${text}`);
    }
    if (Date.now() - started > 15_000) {
      child.kill('SIGKILL');
      throw new Error(`the vendor's Flask example did not listen on ${FLASK_HOST}:${FLASK_PORT} within 15 s:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => text };
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

describe("the vendor's example handler (Flask echo app, unchanged)", () => {
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

  for (const kind of kinds) {
    describe(`[${kind.name}]`, { skip: kind.skip }, () => {
      it('answers a clients.create delivery with 200 and echoes exactly the envelope sent', { skip: skipReason, timeout: 60_000 }, async () => {
        if (python === null) assert.fail(`CI=true and ${NO_FLASK}`);
        if (startError) throw startError;

        const db = await kind.create();
        let app: TestApp | undefined;
        try {
          app = await startApp(db);
          const admin = bearer(app.adminKey);

          // Exactly as the vendor's "best practice example": Clients Create, task host/api.
          const handler = await app.http
            .post('/api/v1/handlers')
            .set(admin)
            .send({ name: 'Vendor example (Flask)', event: 'clients.create', type: 'http', task: '127.0.0.1:5000/api', priority: 1 });
          assert.equal(handler.status, 201, JSON.stringify(handler.body));

          const data = {
            id: 4711,
            name: 'Zoë Telecom',
            status: 'active',
            balance: '-12.50',
            tags: ['vip', 'sip'],
            custom_fields: { region: 'EU', priority: 2.5, reseller: null, prepaid: true },
          };
          const posted = await app.http.post('/api/v1/events').set(admin).send({ event: 'clients.create', object_id: 4711, data });
          assert.equal(posted.status, 202, JSON.stringify(posted.body));
          const eventId = posted.body.id as number;

          const log = await eventually(
            async () => {
              const page = await app!.http.get(`/api/v1/execution-logs?event_id=${eventId}`).set(admin);
              assert.equal(page.status, 200, JSON.stringify(page.body));
              return page.body.items.length > 0 ? page.body.items[0] : undefined;
            },
            15_000,
            'an execution log row for the event',
          ).catch((error: Error) => assert.fail(`${error.message}\nFlask output:\n${flask?.output() ?? ''}`));

          assert.equal(log.status, 'success', `execution log: ${JSON.stringify(log)}\nFlask output:\n${flask?.output() ?? ''}`);
          assert.equal(log.response_code, 200);
          assert.equal(log.handler_id, handler.body.id);

          const expected = {
            event: { dt: posted.body.dt, events_id: 'clients.create', object_id: 4711 },
            data,
          };
          assert.equal(typeof log.response_data, 'string', 'the echoed body is logged');
          assert.deepEqual(JSON.parse(log.response_data), expected, 'Flask echoes the envelope it received');

          // And that envelope is the one the service says it sent.
          const detail = await app.http.get(`/api/v1/execution-logs/${log.id}`).set(admin);
          assert.equal(detail.status, 200, JSON.stringify(detail.body));
          assert.deepEqual(JSON.parse(detail.body.request_payload), expected);

          const event = await app.http.get(`/api/v1/events/${eventId}`).set(admin);
          assert.deepEqual(
            event.body.deliveries.map((d: { status: string }) => d.status),
            ['succeeded'],
          );
        } finally {
          await app?.close();
          await db.drop();
        }
      });
    });
  }
});
