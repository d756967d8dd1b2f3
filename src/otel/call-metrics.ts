import type { Attributes, BatchObservableCallback, BatchObservableResult, Counter, Histogram, Meter, ObservableCallback, ObservableCounter, UpDownCounter } from '@opentelemetry/api';
import type { ConnectionCloseMessage, ConnectionOpenMessage, ConnectionSide, FrameErrorMessage, ObservedConnection } from '../core/diagnostics.js';
import type { CallEndMessage, CallOutcome, CallStartMessage } from '../rpc/diagnostics.js';
import {
  ERROR_TYPE,
  PROTOSOCKET_DIRECTION,
  PROTOSOCKET_OUTCOME,
  PROTOSOCKET_SIDE,
  RPC_METHOD,
  RPC_SYSTEM,
  SYSTEM_NAME,
} from './attributes.js';
import { BoundedLabels, boundedStrings } from './bounded-labels.js';

/** Bucket bounds in ms: calls on one machine take tens of microseconds, across a network milliseconds. */
const DURATION_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000];
const ITEM_BUCKETS = [0, 1, 2, 5, 10, 50, 100, 500, 1000, 10_000, 100_000];

interface IoTotals {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
}

/** One side's calls of one pattern in flight: a plain counter, read when the metrics are collected. */
class InFlight {
  count = 0;
  /** Reported from the first call on: a side that never had a call of the pattern has no series. */
  reported = false;
  readonly attributes: Attributes;

  constructor(side: ConnectionSide, method: string) {
    this.attributes = Object.freeze({ [RPC_SYSTEM]: SYSTEM_NAME, [PROTOSOCKET_SIDE]: side, [RPC_METHOD]: method });
  }
}

/**
 * Everything a pattern (its bounded `rpc.method` label) reports under, made once: the attribute
 * sets of its measurements and its calls in flight. The SDK still hashes an attribute set on
 * every `record` (sdk-metrics keys its storage by a string made from the set, whatever the
 * object), so reusing the sets saves the allocations, not the hashing; the hashing is why
 * calls in flight are counted here and observed at collection rather than added per call.
 */
export class PatternSeries {
  readonly client: InFlight;
  readonly server: InFlight;
  /** `rpc.*.duration` of a call that ended `ok`. */
  readonly ok: Attributes;
  /** `rpc.*.responses_per_rpc`. */
  readonly items: Attributes;
  /** `rpc.*.duration` of a failed call, by outcome and bounded `error.type`: at most 3 × `maxErrorTypes` + 3 entries. */
  private readonly failed = new Map<string, Attributes>();

  constructor(private readonly method: string) {
    this.client = new InFlight('client', method);
    this.server = new InFlight('server', method);
    this.ok = Object.freeze({ [RPC_SYSTEM]: SYSTEM_NAME, [RPC_METHOD]: method, [PROTOSOCKET_OUTCOME]: 'ok' });
    this.items = Object.freeze({ [RPC_SYSTEM]: SYSTEM_NAME, [RPC_METHOD]: method });
  }

  inFlight(side: ConnectionSide): InFlight {
    return side === 'client' ? this.client : this.server;
  }

  failure(outcome: CallOutcome, errorType: string): Attributes {
    const key = `${outcome}\n${errorType}`;
    let attributes = this.failed.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze({ [RPC_SYSTEM]: SYSTEM_NAME, [RPC_METHOD]: this.method, [PROTOSOCKET_OUTCOME]: outcome, [ERROR_TYPE]: errorType });
      this.failed.set(key, attributes);
    }
    return attributes;
  }
}

/**
 * The metrics, fed by the channels:
 *
 *   rpc.client.duration, rpc.server.duration             histogram, ms   rpc.method, outcome, error.type
 *   rpc.client.responses_per_rpc, rpc.server.responses_per_rpc  histogram   rpc.method (stream items per call; 1 for unary)
 *   protosocket.calls.in_flight                          up-down (observed on collection)  side, rpc.method
 *   protosocket.connections.open                         up-down         side
 *   protosocket.io.bytes, protosocket.io.frames          counter (observed on collection)  side, direction
 *   protosocket.protocol.errors                          counter         side, error.type
 *
 * `rpc.method` and `error.type` are bounded (`maxPatterns`, `maxErrorTypes`): later values are `_OTHER`.
 * Per call, each side makes two measurements (its duration and its items); calls in flight are
 * plain counters and bytes and frames the connections' own totals, both read when the metrics
 * are collected, so they cost nothing per call or per frame beyond an increment.
 */
export class CallMetrics {
  private readonly clientDuration: Histogram;
  private readonly serverDuration: Histogram;
  private readonly clientItems: Histogram;
  private readonly serverItems: Histogram;
  private readonly openConnections: UpDownCounter;
  private readonly protocolErrors: Counter;
  private readonly patterns: BoundedLabels<PatternSeries>;
  private readonly errorTypes: BoundedLabels<string>;
  private readonly sides = new WeakMap<ObservedConnection, ConnectionSide>();
  private readonly live = new Set<ObservedConnection>();
  /** What connections closed since instrumentation carried, by side. */
  private readonly closedTotals: Record<ConnectionSide, IoTotals> = { client: emptyTotals(), server: emptyTotals() };
  private readonly removeCallbacks: () => void;

  constructor(meter: Meter, options: { maxPatterns: number; maxErrorTypes: number }) {
    this.patterns = new BoundedLabels(options.maxPatterns, (method) => new PatternSeries(method));
    this.errorTypes = boundedStrings(options.maxErrorTypes);
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
    const inFlight = meter.createObservableUpDownCounter('protosocket.calls.in_flight', { description: 'Calls started and not yet ended.', unit: '{call}' });
    this.openConnections = meter.createUpDownCounter('protosocket.connections.open', { description: 'Open connections.', unit: '{connection}' });
    this.protocolErrors = meter.createCounter('protosocket.protocol.errors', {
      description: 'Connections destroyed for a framing or protocol error, by code.',
      unit: '{error}',
    });
    const bytes = meter.createObservableCounter('protosocket.io.bytes', { description: 'Bytes sent (encoded frames) and received (socket reads).', unit: 'By' });
    const frames = meter.createObservableCounter('protosocket.io.frames', { description: 'Frames sent and received.', unit: '{frame}' });
    const observeIo: BatchObservableCallback = (result) => this.reportIo(result, bytes, frames);
    const observeInFlight: ObservableCallback = (result) => {
      for (const series of this.patterns.all()) {
        for (const counter of [series.client, series.server]) if (counter.reported) result.observe(counter.count, counter.attributes);
      }
    };
    meter.addBatchObservableCallback(observeIo, [bytes, frames]);
    inFlight.addCallback(observeInFlight);
    this.removeCallbacks = () => {
      meter.removeBatchObservableCallback(observeIo, [bytes, frames]);
      inFlight.removeCallback(observeInFlight);
    };
  }

  /** Counts the call in flight; what it returns goes to `onCallEnd`. */
  onCallStart(message: CallStartMessage): PatternSeries {
    const series = this.patterns.get(message.pattern);
    const inFlight = series.inFlight(message.side);
    inFlight.count++;
    inFlight.reported = true;
    return series;
  }

  /** `series`: what `onCallStart` returned, undefined for a call that started before instrumentation (it was not counted in flight). */
  onCallEnd(message: CallEndMessage, series: PatternSeries | undefined): void {
    if (series !== undefined) series.inFlight(message.side).count--;
    else series = this.patterns.get(message.start.pattern);
    const outcome = message.outcome;
    const attributes = outcome === 'ok' ? series.ok : series.failure(outcome, this.errorTypes.get(message.errorCode ?? outcome));
    const client = message.side === 'client';
    (client ? this.clientDuration : this.serverDuration).record(message.durationMs, attributes);
    (client ? this.clientItems : this.serverItems).record(message.items, series.items);
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
    const attributes: Attributes = { [RPC_SYSTEM]: SYSTEM_NAME, [ERROR_TYPE]: this.errorTypes.get(message.code) };
    const side = this.sides.get(message.connection);
    if (side !== undefined) attributes[PROTOSOCKET_SIDE] = side;
    this.protocolErrors.add(1, attributes);
  }

  /** Stops observing calls in flight, bytes and frames (the other instruments just stop receiving values). */
  dispose(): void {
    this.removeCallbacks();
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
