import {
  type Attributes,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  ROOT_CONTEXT,
  context,
  propagation,
  trace,
} from '@opentelemetry/api';
import { codeOf } from '../core/diagnostics.js';
import type { CallEndMessage, CallStartMessage, ClientCallStartMessage, ServerCallStartMessage } from '../rpc/diagnostics.js';
import {
  CLIENT_ADDRESS,
  CLIENT_PORT,
  ERROR_TYPE,
  NETWORK_TRANSPORT,
  PROTOSOCKET_CALL_ID,
  PROTOSOCKET_ITEMS,
  PROTOSOCKET_OUTCOME,
  RPC_METHOD,
  RPC_SYSTEM,
  SERVER_ADDRESS,
  SERVER_PORT,
  SYSTEM_NAME,
} from './attributes.js';

/**
 * One span per call on each side, per the OpenTelemetry RPC conventions (span name = the
 * pattern, `rpc.method` = the pattern). The client span is a child of the caller's active
 * context and its W3C trace context (`traceparent`, `tracestate`, whatever the registered
 * propagator writes) goes into the request's metadata; the server extracts it, starts its span
 * as the child, and runs the handler with that span active, so spans a handler creates (through
 * Nest's pipeline too) are its children. A span ends when its call ends: for a stream, after
 * the last item.
 */
export class CallTracing {
  constructor(private readonly tracer: Tracer) {}

  /** Starts the call's span; what it returns goes to `onEnd`. */
  onStart(message: CallStartMessage): Span {
    return message.side === 'client' ? this.startClientSpan(message) : this.startServerSpan(message);
  }

  onEnd(message: CallEndMessage, span: Span): void {
    // A span the sampler dropped records nothing: skip building what it would ignore.
    if (span.isRecording()) {
      span.setAttribute(PROTOSOCKET_ITEMS, message.items);
      span.setAttribute(PROTOSOCKET_OUTCOME, message.outcome);
      if (message.outcome !== 'ok') {
        span.setAttribute(ERROR_TYPE, message.errorCode ?? codeOf(message.error) ?? message.outcome);
        // A cancel is the client's decision: an error for the caller, not for the server that obeyed it.
        if (!(message.side === 'server' && message.outcome === 'cancelled')) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(message.error) });
        }
      }
    }
    span.end();
  }

  private startClientSpan(message: ClientCallStartMessage): Span {
    const parent = context.active();
    const attributes = startAttributes(message, SERVER_ADDRESS, SERVER_PORT);
    const span = this.tracer.startSpan(message.pattern, { kind: SpanKind.CLIENT, attributes }, parent);
    // The propagator writes into a fresh carrier; the metadata (the caller's object) is replaced
    // by a copy with those entries only when it wrote something, and is never mutated.
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(parent, span), carrier);
    for (const _ in carrier) {
      message.meta = message.meta === undefined ? carrier : { ...message.meta, ...carrier };
      break;
    }
    return span;
  }

  private startServerSpan(message: ServerCallStartMessage): Span {
    // From the root, not the active context: whatever was active when the socket delivered the
    // frame has nothing to do with this request.
    const parent = message.meta === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, message.meta);
    const attributes = startAttributes(message, CLIENT_ADDRESS, CLIENT_PORT);
    const span = this.tracer.startSpan(message.pattern, { kind: SpanKind.SERVER, attributes }, parent);
    // Even a span the sampler dropped goes into the handler's context: it carries the trace id
    // and the not-sampled flag that the handler's own spans must inherit.
    const active = trace.setSpan(parent, span);
    const outer = message.runInContext;
    message.runInContext =
      outer === undefined ? (run) => context.with(active, run) : (run) => outer(() => context.with(active, run));
    return span;
  }
}

function messageOf(error: unknown): string | undefined {
  return error instanceof Error ? error.message : error === undefined ? undefined : String(error);
}

/** A call span's start attributes; the peer goes under `server.*` on the client and `client.*` on the server. */
function startAttributes(message: CallStartMessage, addressKey: string, portKey: string): Attributes {
  const { remoteAddress, remotePort } = message.connection;
  const attributes: Attributes = {
    [RPC_SYSTEM]: SYSTEM_NAME,
    [RPC_METHOD]: message.pattern,
    [PROTOSOCKET_CALL_ID]: message.id,
    [NETWORK_TRANSPORT]: remotePort === undefined ? 'unix' : 'tcp',
  };
  if (remoteAddress !== undefined) attributes[addressKey] = remoteAddress;
  if (remotePort !== undefined) attributes[portKey] = remotePort;
  return attributes;
}
