import { Logger, nativeLoggerOptions, Params, PinoLogger } from 'nestjs-pino';
import { pino, stdSerializers, type DestinationStream, type LevelWithSilent, type LoggerOptions } from 'pino';
import type { Options as HttpLoggerOptions } from 'pino-http';
import type { AppConfig, LogLevelName } from '../config/app-config.js';

/**
 * Fields whose values are masked wherever they appear in a log line: a secret passed by mistake
 * in an object never reaches the output.
 */
export const SECRET_FIELDS = [
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
] as const;

export const REDACTED = '[REDACTED]';

/**
 * Nest's own start-up narration: one line per module initialised (InstanceLoader), per controller
 * and per route mapped (RoutesResolver, RouterExplorer) — about 60 lines at `log` that buried the
 * first admin key's notice. They are written at `debug` instead, so LOG_LEVEL=debug still shows
 * the routes.
 */
export const STARTUP_DETAIL_CONTEXTS: ReadonlySet<string> = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/** pino's level for each LOG_LEVEL (pino says `info` and `trace` where Nest says `log` and `verbose`). */
const PINO_LEVELS: Record<LogLevelName, LevelWithSilent> = { silent: 'silent', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

const secretNames = new Set<string>(SECRET_FIELDS.map((name) => name.toLowerCase()));
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

/**
 * pino's `redact` masks the secret fields of a line itself, in their usual spellings (it costs
 * nothing when the field is absent). Values nested deeper (an object passed as a field, an
 * error's own properties) are walked by maskNested, which compares names case-insensitively.
 */
export const REDACT_PATHS: readonly string[] = [
  ...new Set(SECRET_FIELDS.flatMap((name) => [name, name.toLowerCase(), name.toUpperCase(), name[0]!.toUpperCase() + name.slice(1)])),
];

/**
 * Masks SECRET_FIELDS (any case) inside the fields of a line, at any depth, in plain objects and
 * arrays. The caller's objects are never changed: only the path to a masked value is copied.
 */
export function maskNested(fields: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value = fields[key];
    if (typeof value !== 'object' || value === null) continue;
    const masked = mask(value, 1);
    if (masked !== value) (copy ??= { ...fields })[key] = masked;
  }
  return copy ?? fields;
}

function mask(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > 32) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const masked = mask(item, depth + 1);
      if (masked !== item) (copy ??= [...value])[index] = masked;
    });
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    const masked = secretNames.has(key.toLowerCase()) ? REDACTED : mask(item, depth + 1);
    if (masked !== item) (copy ??= { ...value })[key] = masked;
  }
  return copy ?? value;
}

/** Log lines as text for a terminal: `[Provisioning] pid  - time  LEVEL [Context] message {fields}`. */
export function textDestination(out: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      const { level, timestamp, pid, context, message, err, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const time = new Date(timestamp as number).toISOString().replace('T', ' ').replace('Z', '');
      const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
      const stack = err && typeof err === 'object' ? `\n${(err as { stack?: string }).stack ?? JSON.stringify(err)}` : '';
      out.write(`[Provisioning] ${pid}  - ${time} ${String(level).toUpperCase().padStart(7)} ${context ? `[${context}] ` : ''}${message ?? ''}${rest}${stack}\n`);
    },
  };
}

let stdout: DestinationStream | undefined;

/** Written synchronously, as Nest's console logger did: nothing is lost at exit or on a crash. */
function standardOutput(): DestinationStream {
  return (stdout ??= pino.destination({ dest: 1, sync: true }));
}

/**
 * nestjs-pino's settings for this configuration. One pino logger writes every line: Nest's
 * own, the application's (through Nest's Logger and AppLogger) and the access lines. Each
 * request's lines carry `request_id` through nestjs-pino's AsyncLocalStorage, which the Fastify
 * hooks of ./request-logging.ts fill (not nestjs-pino's middleware: see there). Lines keep the
 * field names of Nest's JSON console logger (nestjs-pino's nativeLoggerOptions): level, pid,
 * timestamp, message, context.
 */
export function loggerParams(config: AppConfig['log'], out: DestinationStream = standardOutput()): Params {
  const options: HttpLoggerOptions & LoggerOptions = {
    ...nativeLoggerOptions,
    level: PINO_LEVELS[config.level],
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    formatters: { ...nativeLoggerOptions.formatters, log: maskNested },
    // An error's own properties can hold a request's headers (an HTTP client's error).
    serializers: { err: (error: Error) => maskNested(stdSerializers.err(error) as unknown as Record<string, unknown>), req: () => undefined },
    wrapSerializers: false,
    stream: config.format === 'json' ? out : textDestination(out),
  };
  // nestjs-pino still builds the root logger from these options (PinoLogger.root); its
  // middleware serves no route.
  return { pinoHttp: options, forRoutes: [] };
}

/**
 * Nest's Logger calls `log(message, ...params, context)`; a plain-object param holds the line's
 * fields (`logger.log('delivery succeeded', {delivery_id, …})`). nestjs-pino's Logger takes them
 * as pino does, in the message position: `(fields, message, ...params, context)`.
 */
function fieldsFirst(message: unknown, params: unknown[]): [unknown, ...unknown[]] {
  if (!params.some(isPlainObject)) return [message, ...params];
  const fields = Object.assign({}, ...params.filter(isPlainObject)) as Record<string, unknown>;
  const rest = params.filter((param) => !isPlainObject(param));
  // nestjs-pino reads the last param as the context: keep the slot when there is none.
  if (rest.length === 0) rest.push(undefined);
  return isPlainObject(message) ? [{ ...fields, ...message }, ...rest] : [fields, message, ...rest];
}

/** nestjs-pino's Logger, with structured params as fields and Nest's start-up detail at `debug`. */
export class AppLogger extends Logger {
  override log(message: unknown, ...params: unknown[]): void {
    const context = params.at(-1);
    if (typeof context === 'string' && STARTUP_DETAIL_CONTEXTS.has(context)) super.debug(...fieldsFirst(message, params));
    else super.log(...fieldsFirst(message, params));
  }
  override error(message: unknown, ...params: unknown[]): void {
    super.error(...fieldsFirst(message, params));
  }
  override warn(message: unknown, ...params: unknown[]): void {
    super.warn(...fieldsFirst(message, params));
  }
  override debug(message: unknown, ...params: unknown[]): void {
    super.debug(...fieldsFirst(message, params));
  }
  override verbose(message: unknown, ...params: unknown[]): void {
    super.verbose(...fieldsFirst(message, params));
  }
  override fatal(message: unknown, ...params: unknown[]): void {
    super.fatal(...fieldsFirst(message, params));
  }
}

/**
 * The application's logger (NestFactory's `logger` option), writing from the first line of
 * start-up. Its pino instance is nestjs-pino's logger for lines written outside a request;
 * LoggerModule.forRoot(loggerParams(…)) in AppModule gives each request its own.
 */
export function createAppLogger(config: AppConfig['log'], out?: DestinationStream): AppLogger {
  const params = loggerParams(config, out);
  return new AppLogger(new PinoLogger(params), params);
}
