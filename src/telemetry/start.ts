// Imported first by src/main.ts: the OpenTelemetry SDK must be running before Fastify and
// node:http are loaded, so its http instrumentation sees them (src/telemetry/tracing.ts).
import { startTracing } from './tracing.js';

startTracing();
