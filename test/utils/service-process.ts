import assert from 'node:assert/strict';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

/** The compiled service, as `npm run start:prod` runs it. */
export const MAIN = resolve('dist/src/main.js');
/** The compiled keys script, as `npm run keys` runs it. */
export const KEYS_CLI = resolve('dist/src/cli/keys.js');

/** Runs the keys script (`npm run keys -- ...args`) on a database; rejects with its exit code and output when it fails. */
export function keysScript(databaseUrl: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [KEYS_CLI, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl } });
}

export interface Running {
  name: string;
  child: ChildProcess;
  output: () => string;
  baseUrl: string;
}

/** Every child started here: killed by killAll() and, as a last resort, when this process exits. */
const children = new Set<ChildProcess>();
export const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
process.on('exit', () => {
  for (const child of children) if (alive(child)) child.kill('SIGKILL');
});

/** Kills a child (SIGKILL) and waits for its exit. */
async function killChild(child: ChildProcess): Promise<void> {
  if (alive(child)) {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  children.delete(child);
}

/** Kills every service this process started. */
export async function killAll(): Promise<void> {
  for (const child of children) await killChild(child);
}

/** Kills one service (SIGKILL) and waits for its exit. */
export const kill = (running: Running): Promise<void> => killChild(running.child);

/** Everything a child process writes on stdout and stderr, as it arrives. */
export function captureOutput(child: ChildProcess): () => string {
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  return () => text;
}

/** The compiled service as a child of this process (on a free port of 127.0.0.1 unless `env` says otherwise). */
function spawnService(cwd: string, env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, TZ: 'UTC', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  return { child, output: captureOutput(child) };
}

/**
 * Starts the compiled service expecting it to end by itself (a refused start): answers its exit
 * code and output. Killed after `timeoutMs`.
 */
export async function runToExit(cwd: string, env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; output: string }> {
  const { child, output } = spawnService(cwd, env);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  children.delete(child);
  return { code: code as number | null, output: output() };
}

/** Starts the compiled service and waits for the line that says where Swagger UI is. */
export async function startService(name: string, cwd: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Running> {
  const { child, output } = spawnService(cwd, env);
  const started = Date.now();
  const listening = /Swagger UI: (http:\/\/\S+)\/docs/;
  while (!listening.test(output())) {
    if (!alive(child)) assert.fail(`service ${name} exited with ${child.exitCode ?? child.signalCode}:\n${output()}`);
    if (Date.now() - started > timeoutMs) assert.fail(`service ${name} did not start within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const baseUrl = listening.exec(output())![1]!.replace('localhost', '127.0.0.1');
  return { name, child, output, baseUrl };
}

/** Sends SIGTERM and waits for the exit; returns the exit code. */
export async function stopService(running: Running): Promise<number | null> {
  if (!alive(running.child)) return running.child.exitCode;
  const exited = once(running.child, 'exit');
  running.child.kill('SIGTERM');
  await exited;
  return running.child.exitCode;
}

export async function api(
  running: Running | string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; text: string }> {
  const base = typeof running === 'string' ? running : running.baseUrl;
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: response.status, body: parsed, text };
}

/** The last lines of a service's output, for failure messages. */
export function tail(running: Running | undefined, lines = 40): string {
  if (!running) return '';
  return `\n--- last output of ${running.name} ---\n${running.output().split('\n').slice(-lines).join('\n')}`;
}
