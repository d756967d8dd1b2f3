import { type Attributes, type Context, type Link, SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { instrumentProtosocket } from 'nestjs-protosocket/otel';

/** The root span the sample traces; every other trace is dropped, so one call's trace is printed. */
export const TRACED_ROOT = 'sample.trace';

/**
 * A minimal OpenTelemetry SDK for the sample: a global tracer provider that prints each span
 * as one line, the W3C propagator, and the protosocket instrumentation. A real application
 * would export to OTLP or Prometheus instead (README, "Operations").
 */
export function startTelemetry(processName: string): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // Roots are sampled only when named TRACED_ROOT; children follow their parent, across the wire too.
  const sampler = new ParentBasedSampler({ root: processName === 'trader' ? new OnlyRoot(TRACED_ROOT) : new AlwaysOffSampler() });
  trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(new LineExporter(processName))] }));
  instrumentProtosocket();
}

class OnlyRoot implements Sampler {
  constructor(private readonly name: string) {}

  shouldSample(_context: Context, _traceId: string, spanName: string, _kind: SpanKind, _attributes: Attributes, _links: Link[]): SamplingResult {
    return { decision: spanName === this.name ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return `OnlyRoot(${this.name})`;
  }
}

class LineExporter implements SpanExporter {
  constructor(private readonly processName: string) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      const parent = span.parentSpanContext?.spanId ?? '(root)          ';
      const kind = SpanKind[span.kind].toLowerCase().padEnd(8);
      const ms = (span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(2);
      const method = span.attributes['rpc.method'] === undefined ? '' : ` rpc.method=${String(span.attributes['rpc.method'])}`;
      console.log(`[trace ${this.processName.padEnd(6)}] ${traceId} span ${spanId} parent ${parent} ${kind} ${span.name.padEnd(14)} ${ms} ms${method}`);
    }
    done({ code: ExportResultCode.SUCCESS });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
