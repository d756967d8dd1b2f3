/**
 * Messages between the orchestrator (run.ts) and the children of a pair. The load generator
 * never talks to a server process directly: its control requests go through the orchestrator,
 * which owns every process (and, with several servers, asks each and merges their answers).
 *
 *   load generator ──ask(begin/end/waitEvents)──> orchestrator ──ask──> server
 *                  <──────────answer──────────────              <─answer─
 *                  ──result (one per workload)──> orchestrator
 */
import type { Bound, CodecName, FleetSpec, TelemetryMode, WorkloadName, WorkloadSpec } from './config.js';
import type { ServerAddress } from './driver.js';
import type { DriverName } from './registry.js';

/** Server-side figures for one measured window (between `begin` and `end`). */
export interface ServerWindow {
  elapsedMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  requests: number;
  events: number;
  peakRssBytes: number;
  /** Telemetry `otel`: the spans the server's SDK exported since start-up, flushed after the window. */
  exportedSpans?: number;
  /**
   * Against several server processes (W9): each one's requests and CPU, in the order of their
   * addresses. The fields above are then their sum (CPU, requests, events, spans), the longest
   * window, and the highest peak RSS of any one of them (lib/relay.ts).
   */
  perServer?: { requests: number; cpuUs: number }[];
}

export interface EventsReceived {
  received: number;
  /** From the first event of the window to the expected last one (or to the cap). */
  spanMs: number;
  /** All expected events arrived before the cap. */
  complete: boolean;
}

export interface ConnectionsAccepted {
  accepted: number;
  /** When the server accepted the last expected connection (monotonic clock, lib/clock.ts), or the cap. */
  lastAt: number;
  /** All expected connections arrived before the cap. */
  complete: boolean;
}

/** `process.memoryUsage()` after a full GC, in bytes. */
export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  /** C++ objects bound to JS ones, ArrayBuffers and Buffers included. */
  external: number;
  arrayBuffers: number;
}

export interface ControlOps {
  /** Starts a window: counters reset, CPU and RSS tracked from here. */
  begin: { arg: { expectEvents?: number; expectConnections?: number }; value: null };
  end: { arg: null; value: ServerWindow };
  /** Waits until the events announced by `begin` arrived, or `capMs`. */
  waitEvents: { arg: { capMs: number }; value: EventsReceived };
  /** Waits until the connections announced by `begin` were accepted, or `capMs`. */
  waitConnections: { arg: { capMs: number }; value: ConnectionsAccepted };
  /** The server's memory after a full GC. */
  memory: { arg: null; value: MemorySnapshot };
}
export type ControlOp = keyof ControlOps;

export interface Ask {
  t: 'ask';
  id: number;
  op: ControlOp;
  arg: unknown;
  /** Asks the pair's first `servers` server processes (their answers merged, lib/relay.ts); all of them when absent. */
  servers?: number;
}

export type Answer = { t: 'answer'; id: number; ok: true; value: unknown } | { t: 'answer'; id: number; ok: false; error: string };

export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  mean: number;
  max: number;
}

/** What the load generator measured for one workload. */
export interface WorkloadResult {
  workload: WorkloadName;
  /** Requests, events or stream messages counted in the measured window. */
  operations: number;
  elapsedMs: number;
  /** Operations per second. */
  rate: number;
  /** Payload megabytes (10^6 bytes) per second, for the payload-size workloads. */
  mbPerSec?: number;
  /** Microseconds, per request. */
  latencyUs?: LatencySummary;
  server: ServerWindow;
  /** Server CPU (user + system) per operation, in microseconds. */
  serverCpuUsPerOp: number;
  /** The load generator's own CPU per operation: when it nears 1 s per second, the client side is the limit. */
  clientCpuUsPerOp: number;
  /** Load-generator CPU seconds per wall-clock second in the window (1.0 = one core saturated). */
  clientCpuLoad: number;
  /** Set when the window hit its time cap before its count (the figures cover what arrived). */
  note?: string;
  /** W6: how the load was spread. */
  fleet?: { processes: number; connections: number };
  /** W7: the idle connections and what they cost the server. */
  idle?: IdleFigures;
  /** Set when telemetry was on in both processes (lib/telemetry.ts). */
  telemetry?: TelemetryFigures;
}

export interface TelemetryFigures {
  mode: TelemetryMode;
  /** `otel`: the spans each side's SDK exported since start-up (a check that the SDK really saw the calls). */
  exportedSpans?: { client: number; server: number };
}

export interface IdleFigures {
  connections: number;
  /** From the load generator's first connect to the server accepting the last connection. */
  acceptMs: number;
  /** From the first connect to the last client reporting itself connected. */
  clientConnectMs: number;
  /** The server's memory (after a GC) before the connections and after `settleMs` of idling with them. */
  before: MemorySnapshot;
  after: MemorySnapshot;
  /** (after - before) / connections, in KiB. */
  perConnectionKiB: { rss: number; heapUsed: number; external: number; arrayBuffers: number };
}

export type ToServer = Ask | { t: 'shutdown' };
export type FromServer = { t: 'ready'; port: number; idleRssBytes: number } | Answer | { t: 'fatal'; error: string; workload?: WorkloadName };
/** `endpoints`: every server process of the pair, in order; the pair's client connects to the first. */
export type ToClient = { t: 'run'; driver: DriverName; codec: CodecName; telemetry: TelemetryMode; endpoints: ServerAddress[]; specs: WorkloadSpec[] } | Answer;

/**
 * The W6 load generator and its helper processes (lib/fleet.ts, lib/fleet-main.ts):
 *
 *   coordinator ──connect──> helper: opens its connections ──connected──>
 *               ──run(warm-up bound)──>                      ──ran──>
 *               ──run(measured bound)──>                     ──ran (counts, times, histogram)──>
 *               ──close──>                                   closes them, exits
 */
export type ToFleet =
  | { t: 'connect'; driver: DriverName; codec: CodecName; port: number; connections: number; spec: FleetSpec }
  | { t: 'run'; bound: Bound; measured: boolean }
  | { t: 'close' };
export type FromFleet =
  | { t: 'connected' }
  | { t: 'ran'; completed: number; startedAt: number; lastReplyAt: number; cpuUs: number; histogram?: string }
  | { t: 'fatal'; error: string };
export type FromClient = Ask | { t: 'result'; result: WorkloadResult } | { t: 'done' } | { t: 'fatal'; error: string; workload?: WorkloadName };

/** Sends on this process's IPC channel (children only); `then` runs once it is handed over. */
export function sendToParent(message: FromServer | FromClient | FromFleet, then?: () => void): void {
  if (process.send === undefined) throw new Error('not started by the orchestrator (no IPC channel)');
  process.send(message, undefined, undefined, then);
}

/** Reports a fatal error to the orchestrator, then exits. */
export function die(err: unknown, extra: Partial<{ workload: WorkloadName }> = {}): void {
  const exit = (): never => process.exit(1);
  try {
    sendToParent({ t: 'fatal', error: describeError(err), ...extra }, exit);
  } catch {
    exit();
  }
  setTimeout(exit, 2_000).unref();
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  if (typeof err === 'object' && err !== null) return JSON.stringify(err);
  return String(err);
}

/** A child exits when the orchestrator goes away, so nothing outlives a killed run. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(70));
}
