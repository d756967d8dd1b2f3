/**
 * The loops that keep requests outstanding on a connection, and the opening and closing of
 * many connections: used by the load generator (workloads.ts) and by W6's helper processes
 * (fleet-main.ts). Every loop stops at a count and at a time, and fails (rather than hangs)
 * when replies stop coming: STALL_MS after its time is up.
 */
import { type Bound, type RequestSpec, STALL_MS } from './config.js';
import type { Driver, DriverClient, DriverOptions } from './driver.js';
import type { LatencyHistogram } from './histogram.js';
import { asError, withTimeout } from './measure.js';

/** What a closed loop needs to know of its workload. */
export interface EchoShape {
  inFlight: number;
  size: number;
}

export interface LoopResult {
  completed: number;
  /** From the first request to the last reply. */
  elapsedMs: number;
  /** performance.now() of the first request and of the last reply. */
  startedAt: number;
  lastReplyAt: number;
}

export type Loop = (payload: unknown, spec: EchoShape, bound: Bound, histogram: LatencyHistogram | undefined) => Promise<LoopResult>;

/**
 * Keeps `spec.inFlight` requests outstanding: each reply starts the next request until
 * `bound.count` requests were started or `bound.ms` passed; then waits for the rest.
 */
export function closedLoop(client: DriverClient, payload: unknown, spec: EchoShape, bound: Bound, histogram: LatencyHistogram | undefined): Promise<LoopResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + bound.ms;
    let started = 0;
    let completed = 0;
    let active = 0;
    let lastReplyAt = start;
    let verified = false;
    let settled = false;

    const stallTimer = setTimeout(() => fail(new Error(`${active} requests still unanswered ${STALL_MS} ms after the loop's time was up`)), bound.ms + STALL_MS);
    function fail(err: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(stallTimer);
      reject(asError(err));
    }
    function issue(): void {
      started++;
      active++;
      const sentAt = performance.now();
      client.request(payload, (err, reply) => {
        const now = performance.now();
        active--;
        if (settled) return;
        if (err !== undefined) return fail(err);
        if (!verified) {
          verified = true;
          const problem = checkEcho(spec, reply);
          if (problem !== undefined) return fail(new Error(problem));
        }
        completed++;
        lastReplyAt = now;
        histogram?.record(now - sentAt);
        if (started < bound.count && now < deadline) {
          issue();
        } else if (active === 0) {
          settled = true;
          clearTimeout(stallTimer);
          resolve({ completed, elapsedMs: lastReplyAt - start, startedAt: start, lastReplyAt });
        }
      });
    }

    const first = Math.min(spec.inFlight, bound.count);
    for (let i = 0; i < first && !settled; i++) issue();
  });
}

/**
 * The same closed loop written as a user writes it: `inFlight` async loops, each awaiting one
 * call before it makes the next (`for (...) { const reply = await client.call(...) }`).
 */
export function awaitedLoop(client: DriverClient, spec: RequestSpec): Loop {
  const call = client.call?.bind(client);
  if (call === undefined) throw new Error(`${spec.name}: this driver has no awaitable call`);
  return async (payload, shape, bound, histogram) => {
    const start = performance.now();
    const deadline = start + bound.ms;
    let started = 0;
    let completed = 0;
    let lastReplyAt = start;
    let verified = false;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && started < bound.count && performance.now() < deadline) {
        started++;
        const sentAt = performance.now();
        const reply = await call(payload);
        const now = performance.now();
        if (!verified) {
          verified = true;
          const problem = checkEcho(shape, reply);
          if (problem !== undefined) throw new Error(problem);
        }
        completed++;
        lastReplyAt = now;
        histogram?.record(now - sentAt);
      }
    };
    const workers = Array.from({ length: Math.min(shape.inFlight, bound.count) }, () =>
      worker().catch((err: unknown) => {
        failed = true;
        throw asError(err);
      }),
    );
    await withTimeout(Promise.all(workers), bound.ms + STALL_MS, `${shape.inFlight} awaited loops: not all calls answered (${STALL_MS} ms after the loop's time)`);
    return { completed, elapsedMs: lastReplyAt - start, startedAt: start, lastReplyAt };
  };
}

/** Checks a reply is the echo of the payload, in whichever form the transport returns it. */
function checkEcho(spec: EchoShape, reply: unknown): string | undefined {
  let size: number | undefined;
  if (reply instanceof Uint8Array) size = reply.byteLength;
  else if (typeof reply === 'object' && reply !== null) {
    const { s, type, data } = reply as { s?: unknown; type?: unknown; data?: unknown };
    if (typeof s === 'string') size = s.length;
    // A Buffer through JSON, as Nest's TCP transport carries it: { type: 'Buffer', data: [...] }.
    else if (type === 'Buffer' && Array.isArray(data)) size = data.length;
  }
  return size === spec.size ? undefined : `reply is not the echo of the ${spec.size}-byte payload: ${describeReply(reply)}`;
}

function describeReply(reply: unknown): string {
  const text = reply instanceof Uint8Array ? `<${reply.byteLength} bytes>` : JSON.stringify(reply) ?? String(reply);
  return text.length > 120 ? `${text.slice(0, 120)}...` : text;
}

/** Where more clients of a pair's driver connect to. */
export interface ClientTarget {
  driver: Driver;
  options: DriverOptions;
  port: number;
}

/**
 * Opens `count` clients of the pair's driver into `into`, `concurrency` connects outstanding
 * at a time (a burst of thousands would overflow the server's accept backlog and measure SYN
 * retransmits instead), within `capMs`.
 */
export async function openClients(target: ClientTarget, count: number, concurrency: number, capMs: number, into: DriverClient[]): Promise<void> {
  const deadline = performance.now() + capMs;
  let next = 0;
  let failed = false;
  const opener = async (): Promise<void> => {
    while (!failed && next < count) {
      if (performance.now() > deadline) throw new Error(`opened ${into.length} of ${count} connections within ${capMs} ms`);
      next++;
      try {
        into.push(await target.driver.connect(target.port, target.options));
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await withTimeout(Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener)), capMs + 1_000, `${count} connections opened`);
}

/** Closes clients, bounded: what is not closed by then goes when the process exits. */
export async function closeClients(clients: DriverClient[], capMs: number): Promise<void> {
  const closing = Promise.allSettled(clients.map((client) => client.close()));
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, capMs).unref())]);
}

