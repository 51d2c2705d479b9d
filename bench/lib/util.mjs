// Small helpers shared by the benchmark modules.
import { createServer } from 'node:net';

/** Milliseconds on the system's monotonic clock: comparable between processes of one machine. */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value below which `p` percent of the sorted numbers fall (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** p50/p95/p99/max of a list of numbers, rounded to 0.01. */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const round = (n) => (n === null ? null : Math.round(n * 100) / 100);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : null),
  };
}

/** A TCP port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Request/answer over a child's IPC channel: `ask(type, fields)` sends `{id, type, ...fields}`
 * and resolves with the child's message carrying the same `id`.
 */
export function ipc(child) {
  let next = 0;
  const waiting = new Map();
  const listeners = new Set();
  child.on('message', (message) => {
    const entry = waiting.get(message.id);
    if (entry) {
      waiting.delete(message.id);
      entry.resolve(message);
    } else {
      for (const listener of listeners) listener(message);
    }
  });
  child.once('exit', (code) => {
    for (const entry of waiting.values()) entry.reject(new Error(`child exited (${code}) before answering`));
    waiting.clear();
  });
  return {
    ask(type, fields = {}) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, type, ...fields });
      });
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const round = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? null : Number(n.toFixed(digits)));
