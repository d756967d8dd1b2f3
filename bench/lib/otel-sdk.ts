/**
 * The OpenTelemetry SDK as an application registers it (what NodeSDK sets up by default, minus
 * the network), for the `otel` telemetry mode (lib/telemetry.ts), then instrumentProtosocket():
 *
 *   traces    BasicTracerProvider, default sampler (every call sampled), BatchSpanProcessor
 *             (NodeSDK's processor, default queue and batch sizes) over an exporter that counts
 *             the spans and drops them
 *   metrics   MeterProvider with a PeriodicExportingMetricReader at the SDK's default 60 s (no
 *             pair lives that long: no collection falls in a window) over an exporter that drops
 *   context   AsyncLocalStorageContextManager; propagator W3C trace context + baggage
 *
 * So a figure with it on measures the instrumentation and the SDK's own work per span and per
 * measurement; no exporter serializes or sends anything.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, type ExportResult, ExportResultCode, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { instrumentProtosocket } from '../../src/otel/index.js';

/** The SDK's default export interval. */
const METRIC_EXPORT_INTERVAL_MS = 60_000;

export interface OtelSdk {
  /** Flushes the span processor, then counts what the exporter was given. */
  exportedSpans(): Promise<number>;
}

class DroppingSpanExporter implements SpanExporter {
  exported = 0;

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const droppingMetricExporter: PushMetricExporter = {
  export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

export function startOtelSdk(): OtelSdk {
  const spans = new DroppingSpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
  const reader = new PeriodicExportingMetricReader({ exporter: droppingMetricExporter, exportIntervalMillis: METRIC_EXPORT_INTERVAL_MS });
  const meterProvider = new MeterProvider({ readers: [reader] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  instrumentProtosocket();
  return {
    async exportedSpans() {
      await tracerProvider.forceFlush();
      return spans.exported;
    },
  };
}
