// nestjs-protosocket/otel: OpenTelemetry traces and metrics, opt-in. Needs @opentelemetry/api.
export { instrumentProtosocket, type ProtosocketInstrumentation, type ProtosocketInstrumentationOptions } from './instrument.js';
export { OTHER_LABEL } from './bounded-labels.js';
