import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { instrumentProtosocket, type ProtosocketInstrumentation, type ProtosocketInstrumentationOptions } from '../../src/otel/index.js';

/**
 * An OpenTelemetry SDK as an application sets one up (global tracer provider, AsyncLocalStorage
 * context manager, W3C propagator), with in-memory exporters, and the instrumentation on.
 */
export class TelemetryHarness {
  readonly spans = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.spans)] });
  private readonly metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  private readonly reader = new PeriodicExportingMetricReader({ exporter: this.metricExporter, exportIntervalMillis: 3_600_000 });
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  readonly instrumentation: ProtosocketInstrumentation;
  private readonly contextManager = new AsyncLocalStorageContextManager().enable();

  constructor(options: ProtosocketInstrumentationOptions = {}) {
    context.setGlobalContextManager(this.contextManager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(this.tracerProvider);
    metrics.setGlobalMeterProvider(this.meterProvider);
    this.instrumentation = instrumentProtosocket(options);
  }

  finished(name?: string): ReadableSpan[] {
    return this.spans.getFinishedSpans().filter((span) => name === undefined || span.name === name);
  }

  /** The metrics as collected now (cumulative). */
  async collect(): Promise<MetricData[]> {
    this.metricExporter.reset();
    await this.reader.forceFlush();
    return this.metricExporter.getMetrics().flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
  }

  async shutdown(): Promise<void> {
    this.instrumentation.disable();
    await this.meterProvider.shutdown();
    await this.tracerProvider.shutdown();
    trace.disable();
    metrics.disable();
    propagation.disable();
    context.disable();
  }
}

/** The data point of metric `name` whose attributes include `attributes` (undefined if none). */
export function point(collected: MetricData[], name: string, attributes: Record<string, unknown>): DataPoint<unknown> | undefined {
  const metric = collected.find((m) => m.descriptor.name === name);
  return (metric?.dataPoints as DataPoint<unknown>[] | undefined)?.find((p) => Object.entries(attributes).every(([key, value]) => p.attributes[key] === value));
}

export function histogram(collected: MetricData[], name: string, attributes: Record<string, unknown>): Histogram | undefined {
  return point(collected, name, attributes)?.value as Histogram | undefined;
}

/** The value of a sum (counter, up-down counter) data point. */
export function sum(collected: MetricData[], name: string, attributes: Record<string, unknown>): number | undefined {
  return point(collected, name, attributes)?.value as number | undefined;
}
