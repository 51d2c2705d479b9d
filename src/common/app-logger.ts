import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { currentRequestId } from './request-context.js';

/**
 * Keys of structured log params whose values are masked wherever they appear: a secret
 * passed by mistake in an object never reaches a log line.
 */
export const REDACTED_KEYS = [
  'authorization',
  'key',
  'apiKey',
  'api_key',
  'secret',
  'signingSecret',
  'signing_secret',
  'previousSecret',
  'password',
  'headers',
];

/**
 * Nest's console logger, one JSON object per line in json mode, with the request id of the
 * request being served (if any) on every line, and structured params as top-level fields.
 */
export class AppLogger extends ConsoleLogger {
  constructor(levels: LogLevel[], json: boolean) {
    super({ json, logLevels: levels, prefix: 'Provisioning', flattenParams: true, redact: REDACTED_KEYS });
  }

  protected override getJsonLogObject(message: unknown, options: Parameters<ConsoleLogger['getJsonLogObject']>[1]) {
    const entry = super.getJsonLogObject(message, options);
    const requestId = currentRequestId();
    return requestId === undefined ? entry : { ...entry, request_id: requestId };
  }

  protected override formatContext(context: string): string {
    const requestId = currentRequestId();
    return super.formatContext(requestId === undefined ? context : `${context} ${requestId}`);
  }
}
