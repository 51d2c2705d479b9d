import { Injectable } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { resolveScriptPath } from '../handlers/script-path.js';
import { CallResult } from './http-executor.js';

/** Output kept from each stream; the rest is read and dropped so the script never blocks on a full pipe. */
function collector(cap: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  return {
    push(chunk: Buffer) {
      if (kept < cap) {
        const part = chunk.subarray(0, cap - kept);
        chunks.push(part);
        kept += part.length;
      }
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/**
 * Runs a script handler (internal use only): the path is checked again against the scripts
 * folder, the program is spawned without a shell in its own process group with a minimal
 * environment, the envelope goes to stdin, stdout/stderr are capped, and on timeout the whole
 * process group is killed so no child is left behind. Exit code 0 is success.
 */
@Injectable()
export class ScriptExecutor {
  constructor(private readonly config: AppConfig) {}

  run(handler: HandlerEntity, body: string, eventsId: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    const started = performance.now();
    const failure = (error: string): CallResult => ({
      ok: false,
      responseCode: null,
      responseBody: null,
      error,
      durationMs: performance.now() - started,
      retryAfterMs: null,
      gone: false,
    });
    if (!this.config.scripts.enabled) return Promise.resolve(failure('script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)'));
    let path: string;
    try {
      path = resolveScriptPath(this.config.scripts.dir, handler.task);
    } catch (error) {
      return Promise.resolve(failure(error instanceof DomainError ? `${error.code}: ${error.message}` : String(error)));
    }

    const cap = this.config.dispatch.responseBodyCapBytes;
    return new Promise<CallResult>((resolve) => {
      const child = spawn(path, [], {
        cwd: this.config.scripts.dir,
        shell: false,
        detached: true, // its own process group: a timeout kills the script and everything it started
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
          LANG: 'C.UTF-8',
          PROVISIONING_EVENT: eventsId,
          PROVISIONING_HANDLER_ID: String(handler.id),
        },
      });
      const stdout = collector(cap);
      const stderr = collector(cap);
      let timedOut = false;
      let spawnError: Error | null = null;
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs);
      stop?.addEventListener('abort', killGroup, { once: true });
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.on('error', () => undefined); // a script that does not read stdin closes the pipe early
      child.on('error', (error) => {
        spawnError = error;
      });
      // The script's own exit ends the call: whatever it left running in its group is killed
      // then, so a background child holding stdout cannot stretch the call to its timeout.
      child.on('exit', () => {
        clearTimeout(timer);
        killGroup();
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        killGroup();
        const output = stdout.text();
        let error: string | null = null;
        if (spawnError) error = `could not start the script: ${spawnError.message}`;
        else if (stop?.aborted) error = 'abandoned: the instance is shutting down';
        else if (timedOut) error = `timeout after ${timeoutMs} ms (process group killed)`;
        else if (signal) error = `killed by ${signal}`;
        else if (code !== 0) error = `exit code ${code}${stderr.text() ? `: ${stderr.text().trim().slice(0, 500)}` : ''}`;
        resolve({
          ok: error === null,
          // The exit code stands where an HTTP answer has its status.
          responseCode: spawnError ? null : code,
          responseBody: output,
          error,
          durationMs: performance.now() - started,
          retryAfterMs: null,
          gone: false,
        });
      });
      child.stdin.end(body);
    });
  }
}
