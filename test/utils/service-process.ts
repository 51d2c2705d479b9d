import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';

/** The compiled service, as `npm run start:prod` runs it. */
export const MAIN = resolve('dist/src/main.js');

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

export async function killAll(): Promise<void> {
  for (const child of children) {
    if (alive(child)) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    children.delete(child);
  }
}

/** Starts the compiled service and waits for the line that says where Swagger UI is. */
export async function startService(name: string, cwd: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH, TZ: 'UTC', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const started = Date.now();
  while (!/Swagger UI: (http:\/\/\S+)\/docs/.test(text)) {
    if (!alive(child)) assert.fail(`service ${name} exited with ${child.exitCode ?? child.signalCode}:\n${text}`);
    if (Date.now() - started > timeoutMs) assert.fail(`service ${name} did not start within ${timeoutMs} ms:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const baseUrl = /Swagger UI: (http:\/\/\S+)\/docs/.exec(text)![1]!.replace('localhost', '127.0.0.1');
  return { name, child, output: () => text, baseUrl };
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
