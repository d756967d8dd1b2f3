/**
 * Messages between the orchestrator (run.ts) and its two children. The load generator never
 * talks to the server process directly: its control requests go through the orchestrator,
 * which owns both processes.
 *
 *   load generator ──ask(begin/end/waitEvents)──> orchestrator ──ask──> server
 *                  <──────────answer──────────────              <─answer─
 *                  ──result (one per workload)──> orchestrator
 */
import type { WorkloadName, WorkloadSpec } from './config.js';
import type { DriverName } from './registry.js';

/** Server-side figures for one measured window (between `begin` and `end`). */
export interface ServerWindow {
  elapsedMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  requests: number;
  events: number;
  peakRssBytes: number;
}

export interface EventsReceived {
  received: number;
  /** From the first event of the window to the expected last one (or to the cap). */
  spanMs: number;
  /** All expected events arrived before the cap. */
  complete: boolean;
}

export interface ControlOps {
  /** Starts a window: counters reset, CPU and RSS tracked from here. */
  begin: { arg: { expectEvents?: number }; value: null };
  end: { arg: null; value: ServerWindow };
  /** Waits until the events announced by `begin` arrived, or `capMs`. */
  waitEvents: { arg: { capMs: number }; value: EventsReceived };
}
export type ControlOp = keyof ControlOps;

export interface Ask {
  t: 'ask';
  id: number;
  op: ControlOp;
  arg: unknown;
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
}

export type ToServer = Ask | { t: 'shutdown' };
export type FromServer = { t: 'ready'; port: number; idleRssBytes: number } | Answer | { t: 'fatal'; error: string; workload?: WorkloadName };
export type ToClient = { t: 'run'; driver: DriverName; port: number; specs: WorkloadSpec[] } | Answer;
export type FromClient = Ask | { t: 'result'; result: WorkloadResult } | { t: 'done' } | { t: 'fatal'; error: string; workload?: WorkloadName };

/** Sends on this process's IPC channel (children only); `then` runs once it is handed over. */
export function sendToParent(message: FromServer | FromClient, then?: () => void): void {
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
