import { context, propagation, ROOT_CONTEXT, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';

/**
 * OpenTelemetry tracing, configured by the standard OTEL_* variables and off unless one of them
 * asks for traces: OTEL_TRACES_EXPORTER (other than `none`), OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. OTEL_SDK_DISABLED=true keeps it off in any case. When it is
 * off the SDK is never started and every helper below returns at its first line, so the hot path
 * pays one boolean test per step.
 *
 * The SDK (`@opentelemetry/sdk-node`) reads the exporter, protocol (OTEL_EXPORTER_OTLP_PROTOCOL:
 * http/protobuf by default, http/json), endpoint, headers, sampler and resource from the same
 * variables; the service name defaults to `provisioning-api`. Two instrumentations: http (the
 * server span of each request, continuing the caller's W3C `traceparent`) and undici (the client
 * span of each webhook call, which carries `traceparent` to the target).
 */
let sdk: NodeSDK | null = null;

export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter === 'none') return false;
  return exporter !== '' || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function tracingEnabled(): boolean {
  return sdk !== null;
}

/** Starts the SDK when the environment asks for traces; call before the app's modules load. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): boolean {
  if (sdk || !tracingWanted(env)) return false;
  env.OTEL_SERVICE_NAME ??= 'provisioning-api';
  // Only traces: metrics stay on /metrics (Prometheus), logs on stdout.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => /^\/(health|metrics|console|docs)/.test(request.url ?? '') }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  return true;
}

/** Flushes and stops the SDK (at shutdown, after the app closed). */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = null;
  await running?.shutdown();
}

const tracer = () => trace.getTracer('provisioning-api');

/** The W3C traceparent of a context's span, to store with an event; null when tracing is off. */
export function traceparentOf(ctx: Context = context.active()): string | null {
  if (!sdk) return null;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? null;
}

/** The context a stored traceparent stands for (the root context when there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  if (!sdk || !traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/**
 * Runs `work` inside a span named `name`, child of `parent` (the active context by default), and
 * ends the span when the work settles; an error is recorded on the span and rethrown. With tracing
 * off, `work` runs as it is and gets no span.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span | null) => Promise<T>,
  parent?: Context,
  kind = SpanKind.INTERNAL,
  startTime?: number,
): Promise<T> {
  if (!sdk) return work(null);
  const parentContext = parent ?? context.active();
  const span = tracer().startSpan(name, { kind, attributes, startTime }, parentContext);
  return context.with(trace.setSpan(parentContext, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
