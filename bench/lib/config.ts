/**
 * The workloads and how long each one runs, per mode. Every loop in the harness is bounded by
 * a count and by a time; the times here add up to the run's budget (see BENCHMARKS.md).
 *
 * Workloads run in pairs of processes (lib/pair.ts). The ones that share a codec and a
 * telemetry mode run in one pair, in order; `isolated` ones get a pair of their own, so their memory figures start from
 * a fresh server process; those against several servers (W9) share a pair with that many
 * server processes (lib/schedule.ts groups them).
 */
import type { DriverName } from './registry.js';

export const WORKLOAD_NAMES = [
  'w1',
  'w2',
  'w3-json',
  'w3-bytes',
  'w4',
  'w5',
  'w1-await',
  'w2-await',
  'w5-await',
  'w8',
  'w2-msgpack',
  'w2-msgpack-js',
  'w2-protobuf',
  'w6',
  'w7',
  'w2-channels',
  'w4-channels',
  'w2-otel',
  'w4-otel',
  'w9-2',
  'w9-3',
] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** Short names for tables. */
export const WORKLOAD_LABELS: Record<WorkloadName, string> = {
  w1: 'W1',
  w2: 'W2',
  'w3-json': 'W3 JSON',
  'w3-bytes': 'W3 Buffer',
  w4: 'W4',
  w5: 'W5',
  'w1-await': 'W1 awaited',
  'w2-await': 'W2 awaited',
  'w5-await': 'W5 for await',
  w8: 'W8',
  'w2-msgpack': 'W2 msgpack',
  'w2-msgpack-js': 'W2 msgpack (JS)',
  'w2-protobuf': 'W2 protobuf',
  'w2-channels': 'W2 channels subscribed',
  'w4-channels': 'W4 channels subscribed',
  'w2-otel': 'W2 OTel SDK on',
  'w4-otel': 'W4 OTel SDK on',
  w6: 'W6',
  w7: 'W7',
  'w9-2': 'W9 2 servers',
  'w9-3': 'W9 3 servers',
};

/**
 * The wire codecs of the protosocket drivers. `msgpack` is msgpackr as a default install loads
 * it (with its native string extractor, msgpackr-extract, when that is present); `msgpack-js`
 * is the same codec with the extractor disabled (MSGPACKR_NATIVE_ACCELERATION_DISABLED=true).
 */
export const CODEC_NAMES = ['json', 'msgpack', 'msgpack-js', 'protobuf'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

export function isCodecName(value: string): value is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(value);
}

/**
 * What observes the protosocket drivers, in both processes of a pair, from start-up on
 * (lib/telemetry.ts): `off` nothing; `channels` a no-op subscriber on every protosocket:*
 * diagnostics channel; `otel` the OpenTelemetry SDK (tracer and meter providers, context
 * manager, W3C propagator) and `instrumentProtosocket()`.
 */
export const TELEMETRY_MODES = ['off', 'channels', 'otel'] as const;
export type TelemetryMode = (typeof TELEMETRY_MODES)[number];

export const TELEMETRY_LABELS: Record<TelemetryMode, string> = {
  off: 'telemetry off',
  channels: 'channels subscribed',
  otel: 'OTel SDK on',
};

/** The workloads measured again with telemetry on: which one each repeats, under which mode. */
export const TELEMETRY_VARIANTS = {
  'w2-channels': { of: 'w2', mode: 'channels' },
  'w4-channels': { of: 'w4', mode: 'channels' },
  'w2-otel': { of: 'w2', mode: 'otel' },
  'w4-otel': { of: 'w4', mode: 'otel' },
} as const satisfies Partial<Record<WorkloadName, { of: WorkloadName; mode: TelemetryMode }>>;

export function telemetryVariant(workload: WorkloadName): { of: WorkloadName; mode: Exclude<TelemetryMode, 'off'> } | undefined {
  return (TELEMETRY_VARIANTS as Partial<Record<WorkloadName, { of: WorkloadName; mode: Exclude<TelemetryMode, 'off'> }>>)[workload];
}

export function isTelemetryMode(value: string): value is TelemetryMode {
  return (TELEMETRY_MODES as readonly string[]).includes(value);
}

export type Mode = 'full' | 'smoke' | 'profile';

/** Stop at whichever comes first. */
export interface Bound {
  count: number;
  ms: number;
}

/**
 * How the load generator makes its calls: `callback` is the observer/callback form the
 * harness has always used (`client.send(...).subscribe(...)`, `rpc.open(...)`); `await` is the
 * form a user writes (`await firstValueFrom(client.send(...))`, `await rpc.call(...)`,
 * `for await (const x of rpc.stream(...))`).
 */
export type CallStyle = 'callback' | 'await';

interface SpecBase {
  name: WorkloadName;
  title: string;
  /** The drivers it applies to; every driver when absent. */
  drivers?: readonly DriverName[];
  /** The codec both ends use; JSON when absent. */
  codec?: CodecName;
  /** Runs in a pair of processes of its own, started for it. */
  isolated?: boolean;
  /** Measured in the first `reps` repetitions only (figures that barely move between runs). */
  reps?: number;
  /**
   * A repetition of workload `of` with telemetry on (a pair of its own per mode, lib/schedule.ts);
   * telemetry off when absent. `--workloads <of>` selects it too.
   */
  telemetry?: { readonly mode: Exclude<TelemetryMode, 'off'>; readonly of: WorkloadName };
  /**
   * Server processes, each listening on a loopback address of its own (`serverHost`), that one
   * client of the workload's own spreads its calls over (`endpoints`, balancer p2c); one when
   * absent. The workloads with more than one share a pair with as many servers as the most any
   * of them needs (lib/schedule.ts); each asks only its first `servers` (lib/relay.ts).
   */
  servers?: number;
}

/** Closed loop: `inFlight` echo requests outstanding at all times on one connection. */
export interface RequestSpec extends SpecBase {
  kind: 'requests';
  style: CallStyle;
  inFlight: number;
  /** Payload size: `{ s: 'x'.repeat(size) }`, or a Buffer of `size` bytes when `bytes`. */
  size: number;
  bytes: boolean;
  warmup: Bound;
  measure: Bound;
}

/** Fire-and-forget: the client emits `count` events, the server counts them. */
export interface EventSpec extends SpecBase {
  kind: 'events';
  size: number;
  warmupCount: number;
  count: number;
  /** Emits per window; the client waits for the window's acceptance before the next. */
  window: number;
  /** Time cap for sending and receiving all `count` events. */
  capMs: number;
}

/** One call at a time, each streaming `items` messages back. */
export interface StreamSpec extends SpecBase {
  kind: 'stream';
  style: CallStyle;
  items: number;
  warmupCalls: number;
  /** `count` calls at most, started within `ms`. */
  measure: Bound;
  /** Cap for one call. */
  callCapMs: number;
}

/**
 * Many connections at once: `processes` load-generator processes (lib/fleet-main.ts), each
 * with `connectionsPerProcess` connections, each keeping `inFlight` echo requests outstanding.
 */
export interface FleetSpec extends SpecBase {
  kind: 'fleet';
  processes: number;
  connectionsPerProcess: number;
  inFlight: number;
  size: number;
  /** Bounds for the whole fleet: `count` is split over the connections. */
  warmup: Bound;
  measure: Bound;
  /** Cap for starting the processes and opening every connection. */
  connectCapMs: number;
}

/**
 * Idle connections: `connections` clients opened (`connectBatch` connects outstanding at a
 * time), left idle for `settleMs`, then the server's memory is read again.
 */
export interface IdleSpec extends SpecBase {
  kind: 'idle';
  connections: number;
  connectBatch: number;
  settleMs: number;
  /** Cap for opening every connection and for the server to accept them all. */
  connectCapMs: number;
  /** Cap for closing them again. */
  closeCapMs: number;
}

export type WorkloadSpec = RequestSpec | EventSpec | StreamSpec | FleetSpec | IdleSpec;

const KIB = 1024;

/** The drivers that have an awaitable form of a call (raw net has only callbacks). */
const AWAIT_DRIVERS: readonly DriverName[] = ['nest-protosocket', 'rpc', 'nest-tcp'];
/** The drivers with codecs and telemetry: this transport's. */
const PROTOSOCKET_DRIVERS: readonly DriverName[] = ['nest-protosocket', 'rpc'];

/** W8's calls in flight on one connection. */
export const W8_IN_FLIGHT = 4_096;
/**
 * The protosocket servers' per-connection in-flight cap (`maxConcurrentCalls`, default 1024),
 * raised for every workload so that W8 measures 4,096 calls in flight, not the cap pausing
 * reads. Below the cap the setting changes nothing.
 */
export const SERVER_MAX_CONCURRENT_CALLS = 2 * W8_IN_FLIGHT;

function fullPlan(): WorkloadSpec[] {
  const w2: RequestSpec = {
    kind: 'requests',
    name: 'w2',
    title: 'W2 throughput, 256 in flight, 64 B',
    style: 'callback',
    inFlight: 256,
    size: 64,
    bytes: false,
    warmup: { count: 100_000, ms: 600 },
    measure: { count: 2_000_000, ms: 2_000 },
  };
  // The W2 shape with another codec: a pair of its own per codec, measured a little shorter.
  const w2Codec = (name: WorkloadName, codec: CodecName, what: string): RequestSpec => ({
    ...w2,
    name,
    title: `W2 throughput, ${what} codec`,
    drivers: PROTOSOCKET_DRIVERS,
    codec,
    warmup: { count: 100_000, ms: 300 },
    measure: { count: 2_000_000, ms: 1_000 },
  });
  const w4: EventSpec = {
    kind: 'events',
    name: 'w4',
    title: 'W4 fire-and-forget events, 64 B',
    size: 64,
    warmupCount: 20_000,
    count: 200_000,
    window: 1_000,
    capMs: 12_000,
  };
  // W2 and W4 with telemetry on: a pair of processes per mode, W2 measured a little shorter.
  const w2Telemetry = (name: 'w2-channels' | 'w2-otel'): RequestSpec => ({
    ...w2,
    name,
    title: `W2 throughput, ${TELEMETRY_LABELS[TELEMETRY_VARIANTS[name].mode]}`,
    drivers: PROTOSOCKET_DRIVERS,
    telemetry: TELEMETRY_VARIANTS[name],
    warmup: { count: 100_000, ms: 300 },
    measure: { count: 2_000_000, ms: 1_000 },
  });
  const w4Telemetry = (name: 'w4-channels' | 'w4-otel'): EventSpec => ({
    ...w4,
    name,
    title: `W4 fire-and-forget events, ${TELEMETRY_LABELS[TELEMETRY_VARIANTS[name].mode]}`,
    drivers: PROTOSOCKET_DRIVERS,
    telemetry: TELEMETRY_VARIANTS[name],
  });
  // W2 from one client of its own over 2 or 3 server processes on 127.0.0.1, .2, .3 (p2c).
  const w9 = (servers: 2 | 3): RequestSpec => ({
    ...w2,
    name: `w9-${servers}`,
    title: `W9 W2 from one client over ${servers} servers on separate loopback addresses (p2c)`,
    drivers: PROTOSOCKET_DRIVERS,
    servers,
    warmup: { count: 100_000, ms: 300 },
    measure: { count: 2_000_000, ms: 1_000 },
  });
  return [
    {
      kind: 'requests',
      name: 'w1',
      title: 'W1 latency, 1 in flight, 64 B',
      style: 'callback',
      inFlight: 1,
      size: 64,
      bytes: false,
      warmup: { count: 3_000, ms: 600 },
      measure: { count: 100_000, ms: 2_000 },
    },
    w2,
    {
      kind: 'requests',
      name: 'w3-json',
      title: 'W3 64 KiB JSON string, 16 in flight',
      style: 'callback',
      inFlight: 16,
      size: 64 * KIB,
      bytes: false,
      warmup: { count: 5_000, ms: 400 },
      measure: { count: 200_000, ms: 1_500 },
    },
    {
      kind: 'requests',
      name: 'w3-bytes',
      title: 'W3 64 KiB Buffer, 16 in flight',
      style: 'callback',
      inFlight: 16,
      size: 64 * KIB,
      bytes: true,
      warmup: { count: 5_000, ms: 400 },
      measure: { count: 200_000, ms: 1_500 },
    },
    w4,
    {
      kind: 'stream',
      name: 'w5',
      title: 'W5 one call streaming 10,000 messages of 64 B',
      style: 'callback',
      items: 10_000,
      warmupCalls: 2,
      measure: { count: 20, ms: 1_500 },
      callCapMs: 10_000,
    },
    {
      kind: 'requests',
      name: 'w1-await',
      title: 'W1 latency, awaited calls',
      drivers: AWAIT_DRIVERS,
      style: 'await',
      inFlight: 1,
      size: 64,
      bytes: false,
      warmup: { count: 3_000, ms: 300 },
      measure: { count: 100_000, ms: 1_000 },
    },
    {
      kind: 'requests',
      name: 'w2-await',
      title: 'W2 throughput, 256 awaited calls in flight',
      drivers: AWAIT_DRIVERS,
      style: 'await',
      inFlight: 256,
      size: 64,
      bytes: false,
      warmup: { count: 100_000, ms: 300 },
      measure: { count: 2_000_000, ms: 1_000 },
    },
    {
      kind: 'stream',
      name: 'w5-await',
      title: 'W5 streaming 10,000 messages, consumed with for await',
      // The stream as an async iterable is the RPC API's; through Nest a stream is an Observable.
      drivers: ['rpc'],
      style: 'await',
      items: 10_000,
      warmupCalls: 1,
      measure: { count: 20, ms: 1_000 },
      callCapMs: 10_000,
    },
    {
      kind: 'requests',
      name: 'w8',
      title: `W8 throughput, ${W8_IN_FLIGHT.toLocaleString('en-US')} in flight on one connection`,
      style: 'callback',
      inFlight: W8_IN_FLIGHT,
      size: 64,
      bytes: false,
      warmup: { count: 100_000, ms: 300 },
      measure: { count: 2_000_000, ms: 1_000 },
    },
    w2Codec('w2-msgpack', 'msgpack', 'msgpack (msgpackr as installed)'),
    w2Codec('w2-msgpack-js', 'msgpack-js', 'msgpack (msgpackr, native extension disabled)'),
    w2Codec('w2-protobuf', 'protobuf', 'protobuf'),
    {
      kind: 'fleet',
      name: 'w6',
      title: 'W6 1,000 connections (4 processes x 250), 4 in flight each, 64 B',
      isolated: true,
      processes: 4,
      connectionsPerProcess: 250,
      inFlight: 4,
      size: 64,
      warmup: { count: 200_000, ms: 300 },
      measure: { count: 2_000_000, ms: 1_200 },
      connectCapMs: 20_000,
    },
    {
      kind: 'idle',
      name: 'w7',
      title: 'W7 10,000 idle connections',
      isolated: true,
      reps: 1,
      connections: 10_000,
      connectBatch: 256,
      settleMs: 500,
      connectCapMs: 30_000,
      closeCapMs: 10_000,
    },
    w9(2),
    w9(3),
    // Last of a driver's pairs: when the run's time budget runs out, they go before its others.
    w2Telemetry('w2-channels'),
    w4Telemetry('w4-channels'),
    w2Telemetry('w2-otel'),
    w4Telemetry('w4-otel'),
  ];
}

/** Seconds in total: the same shapes with tiny counts, to prove the harness end to end. */
function smokePlan(): WorkloadSpec[] {
  return fullPlan().map((spec): WorkloadSpec => {
    switch (spec.kind) {
      case 'requests':
        return { ...spec, warmup: { count: 20, ms: 100 }, measure: { count: spec.inFlight * 4 + 50, ms: 200 } };
      case 'events':
        return { ...spec, warmupCount: 200, count: 2_000, window: 100, capMs: 3_000 };
      case 'stream':
        return { ...spec, items: 500, warmupCalls: 1, measure: { count: 2, ms: 200 }, callCapMs: 3_000 };
      case 'fleet':
        return { ...spec, warmup: { count: 2_000, ms: 100 }, measure: { count: 8_000, ms: 200 } };
      case 'idle':
        return { ...spec, connections: 1_000, settleMs: 100, connectCapMs: 10_000, closeCapMs: 5_000 };
    }
  });
}

/** One workload, measured longer so the profile has enough samples. */
function profilePlan(): WorkloadSpec[] {
  return fullPlan().map((spec): WorkloadSpec => {
    switch (spec.kind) {
      case 'requests':
      case 'fleet':
        return { ...spec, measure: { count: spec.measure.count * 3, ms: 5_000 } };
      case 'events':
        return { ...spec, count: 400_000, capMs: 20_000 };
      case 'stream':
        return { ...spec, measure: { count: 100, ms: 5_000 } };
      case 'idle':
        return spec;
    }
  });
}

export function planFor(mode: Mode): WorkloadSpec[] {
  switch (mode) {
    case 'full':
      return fullPlan();
    case 'smoke':
      return smokePlan();
    case 'profile':
      return profilePlan();
  }
}

export function isWorkloadName(value: string): value is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(value);
}

export function telemetryOf(spec: WorkloadSpec): TelemetryMode {
  return spec.telemetry?.mode ?? 'off';
}

/** Whether `--workloads` (empty: all) names the spec, or the workload it repeats with telemetry on. */
export function isSelected(spec: WorkloadSpec, workloads: readonly WorkloadName[]): boolean {
  return workloads.length === 0 || workloads.includes(spec.name) || (spec.telemetry !== undefined && workloads.includes(spec.telemetry.of));
}

export function appliesTo(spec: WorkloadSpec, driver: DriverName): boolean {
  return spec.drivers === undefined || spec.drivers.includes(driver);
}

/** The longest a workload can take in the load generator (warm-up and measure), for watchdogs. */
export function workloadBudgetMs(spec: WorkloadSpec): number {
  // Each bounded loop may overrun by one stall allowance while the last replies drain.
  const stall = STALL_MS;
  switch (spec.kind) {
    case 'requests':
      // Against several servers the workload connects a client of its own first.
      return spec.warmup.ms + spec.measure.ms + 2 * stall + (serversOf(spec) > 1 ? LIMITS.clientStartMs : 0);
    case 'events':
      return 2 * spec.capMs + stall;
    case 'stream':
      return (spec.warmupCalls + 1) * spec.callCapMs + spec.measure.ms + stall;
    case 'fleet':
      return spec.connectCapMs + spec.warmup.ms + spec.measure.ms + 2 * stall + LIMITS.controlMs;
    case 'idle':
      return 2 * spec.connectCapMs + spec.settleMs + spec.closeCapMs + 2 * LIMITS.controlMs;
  }
}

/** The server processes a workload runs against (SpecBase.servers). */
export function serversOf(spec: WorkloadSpec): number {
  return spec.servers ?? 1;
}

/**
 * Where server process `index` (0-based) of a pair listens: 127.0.0.1, 127.0.0.2, ... On Linux
 * the whole of 127.0.0.0/8 is loopback, so each server has an address of its own, as replicas do.
 */
export function serverHost(index: number): string {
  return `127.0.0.${index + 1}`;
}

/** Connections one server process holds at most in a workload (the load generator's main one included). */
export function serverConnections(spec: WorkloadSpec): number {
  switch (spec.kind) {
    case 'fleet':
      return spec.processes * spec.connectionsPerProcess + 1;
    case 'idle':
      return spec.connections + 1;
    default:
      return 1;
  }
}

/**
 * File descriptors a process needs beyond its connections (stdio, IPC, epoll, libuv, the
 * module files it reads). Node raises its soft limit to the hard limit at start-up, so the
 * hard limit (`ulimit -Hn`) is the one that counts.
 */
export const FD_HEADROOM = 256;

/** How long a loop waits for replies still in flight after its time is up, before failing. */
export const STALL_MS = 10_000;

/** Process-level limits. */
export const LIMITS = {
  /** A server process must be listening within this. */
  serverStartMs: 30_000,
  /** The load generator must connect within this. */
  clientStartMs: 30_000,
  /** Graceful server shutdown (needed to write --cpu-prof output) before it is killed. */
  serverStopMs: 10_000,
  /** One control request (begin/end) between load generator and server. */
  controlMs: 15_000,
  /** The whole full run; pairs left when it is spent are skipped (and reported). */
  fullRunMs: 275_000,
};

export const PAYLOAD_CHAR = 'x';

export function jsonPayload(size: number): { s: string } {
  return { s: PAYLOAD_CHAR.repeat(size) };
}

export function bytesPayload(size: number): Buffer {
  return Buffer.alloc(size, PAYLOAD_CHAR);
}

/** Each W5 item. */
export const STREAM_ITEM_SIZE = 64;
