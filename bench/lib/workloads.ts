/**
 * The workload runner, shared by every driver: the same loops, bounds and clocks for all.
 *
 * Each workload warms up first (same shape, not measured), then runs one measured window:
 *
 *   load generator:  warm-up ── gc ── begin ──── measured loop ──── end
 *   server:                          counters reset, CPU/RSS tracked ──> ServerWindow
 *
 * Every loop stops at a count and at a time, and fails (rather than hangs) when replies stop
 * coming: STALL_MS after its time is up.
 */
import { type Bound, type EventSpec, type RequestSpec, STALL_MS, type StreamSpec, type WorkloadSpec, bytesPayload, jsonPayload } from './config.js';
import type { DriverClient } from './driver.js';
import { collectGarbage } from './gc.js';
import { LatencyHistogram } from './histogram.js';
import type { ControlOp, ControlOps, WorkloadResult } from './ipc.js';

/** The load generator's line to the server process (through the orchestrator). */
export interface ServerControl {
  ask<K extends ControlOp>(op: K, arg: ControlOps[K]['arg']): Promise<ControlOps[K]['value']>;
}

export function runWorkload(spec: WorkloadSpec, client: DriverClient, control: ServerControl): Promise<WorkloadResult> {
  switch (spec.kind) {
    case 'requests':
      return runRequests(spec, client, control);
    case 'events':
      return runEvents(spec, client, control);
    case 'stream':
      return runStream(spec, client, control);
  }
}

// W1, W2, W3: closed-loop echo requests.

async function runRequests(spec: RequestSpec, client: DriverClient, control: ServerControl): Promise<WorkloadResult> {
  const payload = spec.bytes ? bytesPayload(spec.size) : jsonPayload(spec.size);
  await closedLoop(client, payload, spec, spec.warmup, undefined);
  collectGarbage();
  await control.ask('begin', {});
  const histogram = new LatencyHistogram();
  const clientCpu = new CpuMeter();
  const { completed, elapsedMs } = await closedLoop(client, payload, spec, spec.measure, histogram);
  const clientCpuUs = clientCpu.read();
  const server = await control.ask('end', null);
  return {
    workload: spec.name,
    operations: completed,
    elapsedMs,
    rate: perSecond(completed, elapsedMs),
    mbPerSec: perSecond(completed * spec.size, elapsedMs) / 1e6,
    latencyUs: histogram.summary(),
    server,
    serverCpuUsPerOp: cpuPerOp(server.cpuUserUs + server.cpuSystemUs, completed),
    ...clientCost(clientCpuUs, completed, elapsedMs),
  };
}

interface LoopResult {
  completed: number;
  /** From the first request to the last reply. */
  elapsedMs: number;
}

/**
 * Keeps `spec.inFlight` requests outstanding: each reply starts the next request until
 * `bound.count` requests were started or `bound.ms` passed; then waits for the rest.
 */
function closedLoop(client: DriverClient, payload: unknown, spec: RequestSpec, bound: Bound, histogram: LatencyHistogram | undefined): Promise<LoopResult> {
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
          resolve({ completed, elapsedMs: lastReplyAt - start });
        }
      });
    }

    const first = Math.min(spec.inFlight, bound.count);
    for (let i = 0; i < first && !settled; i++) issue();
  });
}

/** Checks a reply is the echo of the payload, in whichever form the transport returns it. */
function checkEcho(spec: RequestSpec, reply: unknown): string | undefined {
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

// W4: fire-and-forget events, counted by the server.

async function runEvents(spec: EventSpec, client: DriverClient, control: ServerControl): Promise<WorkloadResult> {
  const payload = jsonPayload(spec.size);

  await control.ask('begin', { expectEvents: spec.warmupCount });
  await emitMany(client, payload, spec.warmupCount, spec.window, performance.now() + spec.capMs);
  const warm = await control.ask('waitEvents', { capMs: spec.capMs });
  if (!warm.complete) throw new Error(`warm-up: the server received ${warm.received} of ${spec.warmupCount} events within ${spec.capMs} ms`);

  collectGarbage();
  await control.ask('begin', { expectEvents: spec.count });
  const clientCpu = new CpuMeter();
  const deadline = performance.now() + spec.capMs;
  const sent = await emitMany(client, payload, spec.count, spec.window, deadline);
  const clientCpuUs = clientCpu.read();
  const received = await control.ask('waitEvents', { capMs: Math.max(100, deadline - performance.now()) });
  const server = await control.ask('end', null);
  const capped = received.complete ? undefined : `capped at ${spec.capMs} ms: sent ${sent}, server received ${received.received} of ${spec.count}`;
  return {
    workload: spec.name,
    operations: received.received,
    elapsedMs: received.spanMs,
    rate: perSecond(received.received, received.spanMs),
    server,
    serverCpuUsPerOp: cpuPerOp(server.cpuUserUs + server.cpuSystemUs, received.received),
    // The client's CPU while it was sending; sending usually ends before the server is done.
    ...clientCost(clientCpuUs, sent, clientCpu.elapsedMs),
    ...(capped === undefined ? {} : { note: capped }),
  };
}

/**
 * Emits `count` events in windows of `window`: all of a window's emits are issued, then the
 * acceptances the transport reports are awaited, then the event loop gets a turn (socket I/O,
 * `drain`) before the next window.
 */
async function emitMany(client: DriverClient, payload: unknown, count: number, window: number, deadline: number): Promise<number> {
  let sent = 0;
  while (sent < count && performance.now() < deadline) {
    const pending: Promise<void>[] = [];
    const end = Math.min(count, sent + window);
    for (; sent < end; sent++) {
      const accepted = client.emit(payload);
      if (accepted !== undefined) pending.push(accepted);
    }
    if (pending.length > 0) await withTimeout(Promise.all(pending), deadline - performance.now() + STALL_MS, 'events were not accepted');
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return sent;
}

// W5: one call at a time, each streaming `items` messages.

async function runStream(spec: StreamSpec, client: DriverClient, control: ServerControl): Promise<WorkloadResult> {
  for (let i = 0; i < spec.warmupCalls; i++) await streamOnce(client, spec);
  collectGarbage();
  await control.ask('begin', {});
  const clientCpu = new CpuMeter();
  const start = performance.now();
  let calls = 0;
  let messages = 0;
  while (calls < spec.measure.count && performance.now() - start < spec.measure.ms) {
    messages += await streamOnce(client, spec);
    calls++;
  }
  const elapsedMs = performance.now() - start;
  const clientCpuUs = clientCpu.read();
  const server = await control.ask('end', null);
  return {
    workload: spec.name,
    operations: messages,
    elapsedMs,
    rate: perSecond(messages, elapsedMs),
    server,
    serverCpuUsPerOp: cpuPerOp(server.cpuUserUs + server.cpuSystemUs, messages),
    ...clientCost(clientCpuUs, messages, elapsedMs),
  };
}

function streamOnce(client: DriverClient, spec: StreamSpec): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    const timer = setTimeout(() => reject(new Error(`stream call: ${received} of ${spec.items} messages within ${spec.callCapMs} ms`)), spec.callCapMs);
    client.stream(
      spec.items,
      () => received++,
      (err) => {
        clearTimeout(timer);
        if (err !== undefined) reject(asError(err));
        else if (received !== spec.items) reject(new Error(`stream call ended after ${received} of ${spec.items} messages`));
        else resolve(received);
      },
    );
  });
}

// Helpers

/** This process's CPU time (user + system) since construction. */
class CpuMeter {
  private readonly start = process.cpuUsage();
  private readonly startedAt = performance.now();
  private endedAt: number | undefined;

  read(): number {
    const used = process.cpuUsage(this.start);
    this.endedAt = performance.now();
    return used.user + used.system;
  }

  get elapsedMs(): number {
    return (this.endedAt ?? performance.now()) - this.startedAt;
  }
}

function clientCost(cpuUs: number, operations: number, elapsedMs: number): { clientCpuUsPerOp: number; clientCpuLoad: number } {
  return { clientCpuUsPerOp: cpuPerOp(cpuUs, operations), clientCpuLoad: elapsedMs > 0 ? cpuUs / 1000 / elapsedMs : 0 };
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

function cpuPerOp(cpuUs: number, operations: number): number {
  return operations > 0 ? cpuUs / operations : 0;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}

/** Transports fail with Errors, strings (Nest's error bodies) or plain objects. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
