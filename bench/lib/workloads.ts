/**
 * The workload runner, shared by every driver: the same loops, bounds and clocks for all.
 *
 * Each workload warms up first (same shape, not measured), then runs one measured window:
 *
 *   load generator:  warm-up ── gc ── begin ──── measured loop ──── end
 *   server:                          counters reset, CPU/RSS tracked ──> ServerWindow
 *
 * Every loop stops at a count and at a time, and fails (rather than hangs) when replies stop
 * coming (loops.ts). W6 runs its loops in helper processes (fleet.ts); W9 runs W2's loop from a
 * client of its own over several server processes (runAcrossServers).
 */
import { monotonicMs } from './clock.js';
import { type EventSpec, type IdleSpec, LIMITS, type RequestSpec, STALL_MS, type StreamSpec, type WorkloadSpec, bytesPayload, jsonPayload, serversOf } from './config.js';
import type { DriverClient, ServerAddress } from './driver.js';
import { runFleet } from './fleet.js';
import { collectGarbage } from './gc.js';
import { LatencyHistogram } from './histogram.js';
import type { ControlOp, ControlOps, IdleFigures, MemorySnapshot, WorkloadResult } from './ipc.js';
import { type ClientTarget, awaitedLoop, closeClients, closedLoop, openClients } from './loops.js';
import { CpuMeter, asError, clientCost, cpuPerOp, perSecond, withTimeout } from './measure.js';
import type { DriverName } from './registry.js';

/** The load generator's line to the server processes (through the orchestrator). */
export interface ServerControl {
  /** Asks the pair's first `servers` server processes, their answers merged (lib/relay.ts); all of them when absent. */
  ask<K extends ControlOp>(op: K, arg: ControlOps[K]['arg'], servers?: number): Promise<ControlOps[K]['value']>;
}

/** What a workload runs against: the pair's connected client, and what it takes to open more. */
export interface WorkloadContext extends ClientTarget {
  driverName: DriverName;
  /** Every server process of the pair, in order; `client` (and `port`) are the first's. */
  endpoints: readonly ServerAddress[];
  client: DriverClient;
  control: ServerControl;
}

export function runWorkload(spec: WorkloadSpec, context: WorkloadContext): Promise<WorkloadResult> {
  const { client, control } = context;
  switch (spec.kind) {
    case 'requests':
      return serversOf(spec) > 1 ? runAcrossServers(spec, context) : runRequests(spec, client, control);
    case 'events':
      return runEvents(spec, client, control);
    case 'stream':
      return runStream(spec, client, control);
    case 'fleet':
      return runFleet(spec, context);
    case 'idle':
      return runIdle(spec, context);
  }
}

// W1, W2, W3, W8: closed-loop echo requests.

async function runRequests(spec: RequestSpec, client: DriverClient, control: ServerControl): Promise<WorkloadResult> {
  const payload = spec.bytes ? bytesPayload(spec.size) : jsonPayload(spec.size);
  const loop = spec.style === 'await' ? awaitedLoop(client, spec) : closedLoop.bind(undefined, client);
  await loop(payload, spec, spec.warmup, undefined);
  collectGarbage();
  await control.ask('begin', {});
  const histogram = new LatencyHistogram();
  const clientCpu = new CpuMeter();
  const { completed, elapsedMs } = await loop(payload, spec, spec.measure, histogram);
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

// W9: W2 from one client over several servers.

/** How long W9's own client may take to close. */
const CLOSE_CAP_MS = 3_000;

/**
 * W2's loop from a client of the workload's own over the pair's first `spec.servers` server
 * processes (the driver's `connectMany`: one connection to each, calls spread by p2c), its
 * window asked of those servers only. Every one of them must have served requests in the
 * window: otherwise the client did not spread its calls, and the figure would not be W9's.
 */
async function runAcrossServers(spec: RequestSpec, context: WorkloadContext): Promise<WorkloadResult> {
  const servers = serversOf(spec);
  const { driver, driverName, endpoints, options } = context;
  if (driver.connectMany === undefined) throw new Error(`${spec.name}: the ${driverName} driver has no client over several servers`);
  if (endpoints.length < servers) throw new Error(`${spec.name} needs ${servers} servers, the pair has ${endpoints.length}`);
  const client = await withTimeout(driver.connectMany(endpoints.slice(0, servers), options), LIMITS.clientStartMs, `a client over ${servers} servers connected`);
  try {
    const control: ServerControl = { ask: (op, arg) => context.control.ask(op, arg, servers) };
    const result = await runRequests(spec, client, control);
    const idle = (result.server.perServer ?? []).findIndex((server) => server.requests === 0);
    if (result.server.perServer?.length !== servers || idle >= 0) {
      throw new Error(`${spec.name}: server ${idle + 1} of ${servers} served no request in the measured window (${JSON.stringify(result.server.perServer ?? null)})`);
    }
    return result;
  } finally {
    await closeClients([client], CLOSE_CAP_MS);
  }
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
  if (spec.style === 'await') return iterateOnce(client, spec);
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

/** One stream call consumed with `for await` (the driver's `iterate`). */
async function iterateOnce(client: DriverClient, spec: StreamSpec): Promise<number> {
  if (client.iterate === undefined) throw new Error(`${spec.name}: this driver has no async-iterable stream`);
  let received = 0;
  await withTimeout(
    client.iterate(spec.items, () => received++),
    spec.callCapMs,
    `stream call: not all of ${spec.items} messages (for await)`,
  );
  if (received !== spec.items) throw new Error(`stream call ended after ${received} of ${spec.items} messages`);
  return received;
}

// W7: idle connections.

/**
 * Opens `spec.connections` clients (`connectBatch` connects outstanding at a time), waits for
 * the server to have accepted them all, leaves them idle for `settleMs`, and compares the
 * server's memory (after a GC) with what it was before the first connect.
 *
 *   load generator:  memory ── begin ── connect xN ── waitConnections ── idle ── end ── memory ── close
 *   server:                   counts accepted connections, the time of the Nth
 */
async function runIdle(spec: IdleSpec, context: WorkloadContext): Promise<WorkloadResult> {
  const { control } = context;
  const clients: DriverClient[] = [];
  try {
    const before = await control.ask('memory', null);
    await control.ask('begin', { expectConnections: spec.connections });
    const clientCpu = new CpuMeter();
    const startedAt = monotonicMs();
    await openClients(context, spec.connections, spec.connectBatch, spec.connectCapMs, clients);
    const clientConnectMs = monotonicMs() - startedAt;
    const accepted = await control.ask('waitConnections', { capMs: Math.max(100, spec.connectCapMs - clientConnectMs) });
    if (!accepted.complete) throw new Error(`the server accepted ${accepted.accepted} of ${spec.connections} connections within ${spec.connectCapMs} ms`);
    const acceptMs = accepted.lastAt - startedAt;
    // Idle on purpose: what the connections cost once nothing is happening on them.
    await new Promise((resolve) => setTimeout(resolve, spec.settleMs));
    const clientCpuUs = clientCpu.read();
    const server = await control.ask('end', null);
    const after = await control.ask('memory', null);
    const idle: IdleFigures = { connections: spec.connections, acceptMs, clientConnectMs, before, after, perConnectionKiB: perConnection(before, after, spec.connections) };
    return {
      workload: spec.name,
      operations: spec.connections,
      elapsedMs: acceptMs,
      rate: perSecond(spec.connections, acceptMs),
      server,
      serverCpuUsPerOp: cpuPerOp(server.cpuUserUs + server.cpuSystemUs, spec.connections),
      ...clientCost(clientCpuUs, spec.connections, clientCpu.elapsedMs),
      idle,
    };
  } finally {
    await closeClients(clients, spec.closeCapMs);
  }
}

function perConnection(before: MemorySnapshot, after: MemorySnapshot, connections: number): IdleFigures['perConnectionKiB'] {
  const kib = (key: keyof MemorySnapshot): number => (after[key] - before[key]) / 1024 / connections;
  return { rss: kib('rss'), heapUsed: kib('heapUsed'), external: kib('external'), arrayBuffers: kib('arrayBuffers') };
}

