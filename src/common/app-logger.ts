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
 * Nest's own start-up narration: one line per module initialised (InstanceLoader), per controller
 * and per route mapped (RoutesResolver, RouterExplorer) — about 60 lines at `log` that buried the
 * first admin key's notice. They are written at `debug` instead, so LOG_LEVEL=debug still shows
 * the routes.
 */
export const STARTUP_DETAIL_CONTEXTS: ReadonlySet<string> = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/**
 * Nest's console logger, one JSON object per line in json mode, with the request id of the
 * request being served (if any) on every line, and structured params as top-level fields.
 */
export class AppLogger extends ConsoleLogger {
  constructor(levels: LogLevel[], json: boolean) {
    super({ json, logLevels: levels, prefix: 'Provisioning', flattenParams: true, redact: REDACTED_KEYS });
  }

  override log(message: unknown, ...optionalParams: unknown[]): void {
    // Nest's Logger passes its context as the last parameter.
    const context = optionalParams.at(-1);
    if (typeof context === 'string' && STARTUP_DETAIL_CONTEXTS.has(context)) this.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
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
