import diagnosticsChannel from 'node:diagnostics_channel';
import { type MeterProvider, type Span, type TracerProvider, metrics, trace } from '@opentelemetry/api';
import type { ConnectionCloseMessage, ConnectionOpenMessage, FrameErrorMessage } from '../core/diagnostics.js';
import type { CallEndMessage, CallStartMessage } from '../rpc/diagnostics.js';
import { CallMetrics, type PatternSeries } from './call-metrics.js';
import { CallTracing } from './call-tracing.js';

const INSTRUMENTATION_NAME = 'nestjs-protosocket';

/** What a call's end needs from its start: its span (with traces on), the series it is counted in flight in (with metrics on). */
class ObservedCall {
  constructor(
    readonly span: Span | undefined,
    readonly series: PatternSeries | undefined,
  ) {}
}

export interface ProtosocketInstrumentationOptions {
  /** Default: the global one (`trace.getTracerProvider()`), a no-op until an SDK registers itself. */
  tracerProvider?: TracerProvider;
  /** Default: the global one (`metrics.getMeterProvider()`), a no-op until an SDK registers itself. */
  meterProvider?: MeterProvider;
  /** Spans for calls, with trace context across the wire. Default true. */
  traces?: boolean;
  /** The metrics (see README, "Operations"). Default true. */
  metrics?: boolean;
  /** Distinct patterns reported as `rpc.method` in metrics; later ones are `_OTHER`. Spans always carry the pattern. Default 100. */
  maxPatterns?: number;
  /** Distinct `error.type` values in metrics; later ones are `_OTHER`. Default 50. */
  maxErrorTypes?: number;
}

/** What `instrumentProtosocket` returns. */
export interface ProtosocketInstrumentation {
  /** Unsubscribes from every channel: calls started from here on are not observed. Idempotent. */
  disable(): void;
}

/**
 * Opts in to OpenTelemetry traces and metrics for every protosocket client and server of the
 * process, by subscribing to the diagnostics channels. Call it once, at startup, after the
 * SDK is set up (or pass the providers). Trace context goes through the globally registered
 * propagator (W3C trace context with the SDK's defaults).
 */
export function instrumentProtosocket(options: ProtosocketInstrumentationOptions = {}): ProtosocketInstrumentation {
  const subscriptions: [string, (message: unknown) => void][] = [];
  const on = <M>(name: string, listener: (message: M) => void) => subscriptions.push([name, listener as (message: unknown) => void]);

  const tracing = options.traces === false ? undefined : new CallTracing((options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_NAME));
  const callMetrics =
    options.metrics === false
      ? undefined
      : new CallMetrics((options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_NAME), {
          maxPatterns: options.maxPatterns ?? 100,
          maxErrorTypes: options.maxErrorTypes ?? 50,
        });

  // One entry per call observed from its start: what its end needs (its span, its series).
  // Tracing first on start (it may replace the metadata), last on end (the span ends after the metrics are taken).
  const calls = new WeakMap<CallStartMessage, ObservedCall>();
  on<CallStartMessage>('protosocket:call:start', (message) => {
    calls.set(message, new ObservedCall(tracing?.onStart(message), callMetrics?.onCallStart(message)));
  });
  on<CallEndMessage>('protosocket:call:end', (message) => {
    const call = calls.get(message.start);
    if (call !== undefined) calls.delete(message.start);
    callMetrics?.onCallEnd(message, call?.series);
    if (call?.span !== undefined) tracing?.onEnd(message, call.span);
  });
  if (callMetrics !== undefined) {
    on<ConnectionOpenMessage>('protosocket:connection:open', (message) => callMetrics.onConnectionOpen(message));
    on<ConnectionCloseMessage>('protosocket:connection:close', (message) => callMetrics.onConnectionClose(message));
    on<FrameErrorMessage>('protosocket:frame:error', (message) => callMetrics.onFrameError(message));
  }
  for (const [name, listener] of subscriptions) diagnosticsChannel.subscribe(name, listener);

  let enabled = true;
  return {
    disable() {
      if (!enabled) return;
      enabled = false;
      for (const [name, listener] of subscriptions) diagnosticsChannel.unsubscribe(name, listener);
      callMetrics?.dispose();
    },
  };
}
