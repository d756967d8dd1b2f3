import type { Attributes, BatchObservableCallback, BatchObservableResult, Counter, Histogram, Meter, ObservableCounter, UpDownCounter } from '@opentelemetry/api';
import type { ConnectionCloseMessage, ConnectionOpenMessage, ConnectionSide, FrameErrorMessage, ObservedConnection } from '../core/diagnostics.js';
import type { CallEndMessage, CallStartMessage } from '../rpc/diagnostics.js';
import {
  ERROR_TYPE,
  PROTOSOCKET_DIRECTION,
  PROTOSOCKET_OUTCOME,
  PROTOSOCKET_SIDE,
  RPC_METHOD,
  RPC_SYSTEM,
  SYSTEM_NAME,
} from './attributes.js';
import { BoundedLabels } from './bounded-labels.js';

/** Bucket bounds in ms: calls on one machine take tens of microseconds, across a network milliseconds. */
const DURATION_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
const ITEM_BUCKETS = [0, 1, 2, 5, 10, 50, 100, 500, 1000, 10_000, 100_000];

interface IoTotals {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
}

/**
 * The metrics, fed by the channels:
 *
 *   rpc.client.duration, rpc.server.duration             histogram, ms   rpc.method, outcome, error.type
 *   rpc.client.responses_per_rpc, rpc.server.responses_per_rpc  histogram   rpc.method (stream items per call; 1 for unary)
 *   protosocket.calls.in_flight                          up-down         side, rpc.method
 *   protosocket.connections.open                         up-down         side
 *   protosocket.io.bytes, protosocket.io.frames          counter (observed on collection)  side, direction
 *   protosocket.protocol.errors                          counter         side, error.type
 *
 * `rpc.method` and `error.type` are bounded (`maxPatterns`, `maxErrorTypes`): later values are `_OTHER`.
 * Bytes and frames are read from the connections' own totals when the metrics are collected,
 * so they cost nothing per frame beyond the connection's counter increments.
 */
export class CallMetrics {
  private readonly clientDuration: Histogram;
  private readonly serverDuration: Histogram;
  private readonly clientItems: Histogram;
  private readonly serverItems: Histogram;
  private readonly inFlight: UpDownCounter;
  private readonly openConnections: UpDownCounter;
  private readonly protocolErrors: Counter;
  private readonly patterns: BoundedLabels;
  private readonly errorTypes: BoundedLabels;
  /** Calls counted in flight: their end takes them out. A call that started before instrumentation is not here. */
  private readonly started = new WeakMap<CallStartMessage, string>();
  private readonly sides = new WeakMap<ObservedConnection, ConnectionSide>();
  private readonly live = new Set<ObservedConnection>();
  /** What connections closed since instrumentation carried, by side. */
  private readonly closedTotals: Record<ConnectionSide, IoTotals> = { client: emptyTotals(), server: emptyTotals() };
  private readonly removeIoCallback: () => void;

  constructor(meter: Meter, options: { maxPatterns: number; maxErrorTypes: number }) {
    this.patterns = new BoundedLabels(options.maxPatterns);
    this.errorTypes = new BoundedLabels(options.maxErrorTypes);
    const duration = (side: ConnectionSide) =>
      meter.createHistogram(`rpc.${side}.duration`, {
        description: `Duration of ${side === 'client' ? 'outbound' : 'inbound'} RPC calls, from the request to the last frame.`,
        unit: 'ms',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS_MS },
      });
    const items = (side: ConnectionSide) =>
      meter.createHistogram(`rpc.${side}.responses_per_rpc`, {
        description: 'Values per call: 1 for a unary reply, the item count for a stream.',
        unit: '{count}',
        advice: { explicitBucketBoundaries: ITEM_BUCKETS },
      });
    this.clientDuration = duration('client');
    this.serverDuration = duration('server');
    this.clientItems = items('client');
    this.serverItems = items('server');
    this.inFlight = meter.createUpDownCounter('protosocket.calls.in_flight', { description: 'Calls started and not yet ended.', unit: '{call}' });
    this.openConnections = meter.createUpDownCounter('protosocket.connections.open', { description: 'Open connections.', unit: '{connection}' });
    this.protocolErrors = meter.createCounter('protosocket.protocol.errors', {
      description: 'Connections destroyed for a framing or protocol error, by code.',
      unit: '{error}',
    });
    const bytes = meter.createObservableCounter('protosocket.io.bytes', { description: 'Bytes sent (encoded frames) and received (socket reads).', unit: 'By' });
    const frames = meter.createObservableCounter('protosocket.io.frames', { description: 'Frames sent and received.', unit: '{frame}' });
    const callback: BatchObservableCallback = (result) => this.reportIo(result, bytes, frames);
    meter.addBatchObservableCallback(callback, [bytes, frames]);
    this.removeIoCallback = () => meter.removeBatchObservableCallback(callback, [bytes, frames]);
  }

  onCallStart(message: CallStartMessage): void {
    const method = this.patterns.label(message.pattern);
    this.started.set(message, method);
    this.inFlight.add(1, { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: message.side, [RPC_METHOD]: method });
  }

  onCallEnd(message: CallEndMessage): void {
    const start = message.start;
    let method = this.started.get(start);
    if (method !== undefined) {
      this.started.delete(start);
      this.inFlight.add(-1, { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: message.side, [RPC_METHOD]: method });
    } else {
      method = this.patterns.label(start.pattern);
    }
    const attributes: Attributes = { [RPC_SYSTEM]: SYSTEM_NAME, [RPC_METHOD]: method, [PROTOSOCKET_OUTCOME]: message.outcome };
    if (message.outcome !== 'ok') attributes[ERROR_TYPE] = this.errorTypes.label(message.errorCode ?? message.outcome);
    const client = message.side === 'client';
    (client ? this.clientDuration : this.serverDuration).record(message.durationMs, attributes);
    (client ? this.clientItems : this.serverItems).record(message.items, { [RPC_SYSTEM]: SYSTEM_NAME, [RPC_METHOD]: method });
  }

  onConnectionOpen(message: ConnectionOpenMessage): void {
    this.sides.set(message.connection, message.side);
    this.live.add(message.connection);
    this.openConnections.add(1, { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: message.side });
  }

  onConnectionClose(message: ConnectionCloseMessage): void {
    const connection = message.connection;
    const side = this.sides.get(connection);
    if (side === undefined || !this.live.delete(connection)) return;
    const totals = this.closedTotals[side];
    totals.bytesSent += connection.bytesSent;
    totals.bytesReceived += connection.bytesReceived;
    totals.framesSent += connection.framesSent;
    totals.framesReceived += connection.framesReceived;
    this.openConnections.add(-1, { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: side });
  }

  onFrameError(message: FrameErrorMessage): void {
    const attributes: Attributes = { [RPC_SYSTEM]: SYSTEM_NAME, [ERROR_TYPE]: this.errorTypes.label(message.code) };
    const side = this.sides.get(message.connection);
    if (side !== undefined) attributes[PROTOSOCKET_SIDE] = side;
    this.protocolErrors.add(1, attributes);
  }

  /** Stops observing bytes and frames (the other instruments just stop receiving values). */
  dispose(): void {
    this.removeIoCallback();
    this.live.clear();
  }

  private reportIo(result: BatchObservableResult, bytes: ObservableCounter, frames: ObservableCounter): void {
    const totals: Record<ConnectionSide, IoTotals> = { client: { ...this.closedTotals.client }, server: { ...this.closedTotals.server } };
    for (const connection of this.live) {
      const side = totals[this.sides.get(connection) ?? 'client'];
      side.bytesSent += connection.bytesSent;
      side.bytesReceived += connection.bytesReceived;
      side.framesSent += connection.framesSent;
      side.framesReceived += connection.framesReceived;
    }
    for (const side of ['client', 'server'] as const) {
      const t = totals[side];
      const out = { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: side, [PROTOSOCKET_DIRECTION]: 'out' };
      const inbound = { [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: side, [PROTOSOCKET_DIRECTION]: 'in' };
      result.observe(bytes, t.bytesSent, out);
      result.observe(bytes, t.bytesReceived, inbound);
      result.observe(frames, t.framesSent, out);
      result.observe(frames, t.framesReceived, inbound);
    }
  }
}

function emptyTotals(): IoTotals {
  return { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0 };
}
