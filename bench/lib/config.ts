/**
 * The workloads and how long each one runs, per mode. Every loop in the harness is bounded by
 * a count and by a time; the times here add up to the run's budget (see BENCHMARKS.md).
 */

export const WORKLOAD_NAMES = ['w1', 'w2', 'w3-json', 'w3-bytes', 'w4', 'w5'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/** Short names for tables. */
export const WORKLOAD_LABELS: Record<WorkloadName, string> = {
  w1: 'W1',
  w2: 'W2',
  'w3-json': 'W3 JSON',
  'w3-bytes': 'W3 Buffer',
  w4: 'W4',
  w5: 'W5',
};

export type Mode = 'full' | 'smoke' | 'profile';

/** Stop at whichever comes first. */
export interface Bound {
  count: number;
  ms: number;
}

/** Closed loop: `inFlight` echo requests outstanding at all times on one connection. */
export interface RequestSpec {
  kind: 'requests';
  name: WorkloadName;
  title: string;
  inFlight: number;
  /** Payload size: `{ s: 'x'.repeat(size) }`, or a Buffer of `size` bytes when `bytes`. */
  size: number;
  bytes: boolean;
  warmup: Bound;
  measure: Bound;
}

/** Fire-and-forget: the client emits `count` events, the server counts them. */
export interface EventSpec {
  kind: 'events';
  name: WorkloadName;
  title: string;
  size: number;
  warmupCount: number;
  count: number;
  /** Emits per window; the client waits for the window's acceptance before the next. */
  window: number;
  /** Time cap for sending and receiving all `count` events. */
  capMs: number;
}

/** One call at a time, each streaming `items` messages back. */
export interface StreamSpec {
  kind: 'stream';
  name: WorkloadName;
  title: string;
  items: number;
  warmupCalls: number;
  /** `count` calls at most, started within `ms`. */
  measure: Bound;
  /** Cap for one call. */
  callCapMs: number;
}

export type WorkloadSpec = RequestSpec | EventSpec | StreamSpec;

const KIB = 1024;

function fullPlan(): WorkloadSpec[] {
  return [
    {
      kind: 'requests',
      name: 'w1',
      title: 'W1 latency, 1 in flight, 64 B',
      inFlight: 1,
      size: 64,
      bytes: false,
      warmup: { count: 3_000, ms: 600 },
      measure: { count: 100_000, ms: 2_000 },
    },
    {
      kind: 'requests',
      name: 'w2',
      title: 'W2 throughput, 256 in flight, 64 B',
      inFlight: 256,
      size: 64,
      bytes: false,
      warmup: { count: 100_000, ms: 600 },
      measure: { count: 2_000_000, ms: 2_000 },
    },
    {
      kind: 'requests',
      name: 'w3-json',
      title: 'W3 64 KiB JSON string, 16 in flight',
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
      inFlight: 16,
      size: 64 * KIB,
      bytes: true,
      warmup: { count: 5_000, ms: 400 },
      measure: { count: 200_000, ms: 1_500 },
    },
    {
      kind: 'events',
      name: 'w4',
      title: 'W4 fire-and-forget events, 64 B',
      size: 64,
      warmupCount: 20_000,
      count: 200_000,
      window: 1_000,
      capMs: 12_000,
    },
    {
      kind: 'stream',
      name: 'w5',
      title: 'W5 one call streaming 10,000 messages of 64 B',
      items: 10_000,
      warmupCalls: 2,
      measure: { count: 20, ms: 1_500 },
      callCapMs: 10_000,
    },
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
    }
  });
}

/** One workload, measured longer so the profile has enough samples. */
function profilePlan(): WorkloadSpec[] {
  return fullPlan().map((spec): WorkloadSpec => {
    switch (spec.kind) {
      case 'requests':
        return { ...spec, measure: { count: spec.measure.count * 3, ms: 5_000 } };
      case 'events':
        return { ...spec, count: 400_000, capMs: 20_000 };
      case 'stream':
        return { ...spec, measure: { count: 100, ms: 5_000 } };
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

/** The longest a workload can take in the load generator (warm-up and measure), for watchdogs. */
export function workloadBudgetMs(spec: WorkloadSpec): number {
  // Each bounded loop may overrun by one stall allowance while the last replies drain.
  const stall = STALL_MS;
  switch (spec.kind) {
    case 'requests':
      return spec.warmup.ms + spec.measure.ms + 2 * stall;
    case 'events':
      return 2 * spec.capMs + stall;
    case 'stream':
      return (spec.warmupCalls + 1) * spec.callCapMs + spec.measure.ms + stall;
  }
}

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
  /** The whole full run; repetitions left when it is spent are skipped (and reported). */
  fullRunMs: 240_000,
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
