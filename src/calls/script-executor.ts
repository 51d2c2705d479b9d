import { Injectable, Logger } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors.js';
import { HandlerEntity } from '../handlers/handler.entity.js';
import { resolveScriptPath } from '../handlers/script-path.js';
import { ABANDONED, abandonedCall, CallResult, forbiddenCall, scriptCall, timeoutMessage } from './call-result.js';
import { fdLink, killScriptProcesses } from './process-tree.js';
import { ScriptUser, scriptUserAtStart } from './script-user.js';

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
 * folder, the program is spawned without a shell, as SCRIPT_RUN_AS_USER, in its own session
 * and process group, with a minimal environment; the envelope goes to stdin, stdout/stderr
 * are capped. Exit code 0 is success.
 *
 * The call ends at the script's exit or at the timeout, whichever comes first, never later:
 * it does not wait for the pipes to close, since anything the script started may hold them.
 * At either end everything the script started is killed (process-tree.ts: its group and
 * session, its descendants by parent pid, and whatever holds its pipes, which catches a
 * grandchild that escaped with setsid) and our ends of the pipes are closed.
 */
@Injectable()
export class ScriptExecutor {
  private readonly logger = new Logger('Scripts');
  /** Who scripts run as; undefined: the service's own (non-root) user. */
  readonly user: ScriptUser | undefined;

  constructor(private readonly config: AppConfig) {
    // Throws ScriptUserError, which stops the start, when scripts would run as root (script-user.ts).
    this.user = scriptUserAtStart(config.scripts);
    if (config.scripts.enabled && this.user) this.logger.log(`Script handlers run as ${this.user.label}`);
    else if (config.scripts.enabled) {
      this.logger.warn('Script handlers run as the service\'s own user and can read its environment and files; set SCRIPT_RUN_AS_USER');
    }
  }

  run(handler: HandlerEntity, body: string, eventType: string, timeoutMs = handler.timeoutMs, stop?: AbortSignal): Promise<CallResult> {
    const started = performance.now();
    if (!this.config.scripts.enabled) return Promise.resolve(forbiddenCall('script handlers are disabled (SCRIPT_HANDLERS_ENABLED=false)', performance.now() - started));
    if (stop?.aborted) return Promise.resolve(abandonedCall(performance.now() - started));
    let path: string;
    try {
      path = resolveScriptPath(this.config.scripts.dir, handler.task);
    } catch (error) {
      const message = error instanceof DomainError ? `${error.code}: ${error.message}` : String(error);
      // A path leading out of SCRIPTS_DIR is refused by policy; a missing script is one that could not run.
      const outside = error instanceof DomainError && error.code === 'SCRIPT_PATH_OUTSIDE';
      return Promise.resolve(outside ? forbiddenCall(message, performance.now() - started) : scriptCall(null, '', message, performance.now() - started));
    }

    const cap = this.config.dispatch.responseBodyCapBytes;
    return new Promise<CallResult>((resolve) => {
      const child = spawn(path, [], {
        cwd: this.config.scripts.dir,
        shell: false,
        detached: true, // a session and process group of its own, led by the script
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(this.user ? { uid: this.user.uid, gid: this.user.gid } : {}),
        env: {
          PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
          LANG: 'C.UTF-8',
          PROVISIONING_EVENT: eventType,
          PROVISIONING_HANDLER_ID: String(handler.id),
        },
      });
      // The script's ends of its stdin, stdout and stderr: whoever else holds one was started by it.
      const pipes = new Set([0, 1, 2].map((fd) => fdLink(child.pid, fd)).filter((link): link is string => link !== null));
      const stdout = collector(cap);
      const stderr = collector(cap);
      let spawnError: Error | null = null;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
      let done = false;
      let drainTimer: NodeJS.Timeout | undefined;

      const killAll = () => {
        if (child.pid) killScriptProcesses(child.pid, pipes);
      };
      const closePipes = () => {
        for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
      };
      const finish = (error: string | null, timedOut = false) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(drainTimer);
        stop?.removeEventListener('abort', onAbort);
        closePipes();
        resolve(scriptCall(spawnError || !exit ? null : exit.code, stdout.text(), error, performance.now() - started, timedOut));
      };
      const outcome = (): string | null => {
        if (spawnError) return `could not start the script: ${spawnError.message}`;
        if (!exit) return 'the script ended without an exit status';
        if (exit.signal) return `killed by ${exit.signal}`;
        if (exit.code !== 0) return `exit code ${exit.code}${stderr.text() ? `: ${stderr.text().trim().slice(0, 500)}` : ''}`;
        return null;
      };
      const cut = (error: string, timedOut = false) => {
        if (done) return;
        killAll();
        finish(error, timedOut);
      };

      const timer = setTimeout(() => cut(`${timeoutMessage(timeoutMs)} (the script and everything it started killed)`, true), timeoutMs);
      const onAbort = () => cut(ABANDONED);
      stop?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      child.stdin.on('error', () => undefined); // a script that does not read stdin closes the pipe early
      child.stdout.on('error', () => undefined);
      child.stderr.on('error', () => undefined);
      child.on('error', (error) => {
        spawnError = error;
        // A script that could not start has no exit to wait for.
        if (!child.pid) finish(outcome());
      });
      // The script's exit ends the call: what it left running is killed, so a background child
      // holding stdout cannot stretch the call. Output already written is read until the pipes
      // close, which they do at once unless something escaped the kill; then they are cut.
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        if (done || !child.pid) return;
        // It ended in time: what remains is reading its output, bounded by the drain below, so
        // the deadline may no longer turn this run into a timeout.
        clearTimeout(timer);
        // Its group, session and their descendants: reading /proc/<pid>/stat only, cheap.
        killScriptProcesses(child.pid, new Set());
        drainTimer = setTimeout(() => {
          // The pipes are still open: something that left the session holds them. Find it by the pipes.
          killAll();
          drainTimer = setTimeout(() => finish(outcome()), 100);
        }, 50);
      });
      child.on('close', () => finish(outcome()));
      child.stdin.end(body);
    });
  }
}
