/**
 * W6 in the load generator: `spec.processes` helper processes (fleet-main.ts), each opening
 * `spec.connectionsPerProcess` connections to the server and keeping `spec.inFlight` requests
 * outstanding on every one of them. Two cores cannot give each connection a process, and one
 * process would make the load generator, not the server, the subject: a few processes share
 * the load.
 *
 *   coordinator:  fork xP ── connect ── warm-up run ── begin ── measured run ── end ── close
 *   helpers:               open N     loops, gc after         loops, report
 *                                                             (counts, times, histogram)
 *
 * Throughput is every helper's replies over the span from the earliest first request to the
 * latest last reply, on the monotonic clock all processes share (clock.ts). The helpers are
 * this process's children: killed when it exits, and exiting themselves when it goes away.
 */
import { fileURLToPath } from 'node:url';
import { type Bound, type FleetSpec, LIMITS } from './config.js';
import { LatencyHistogram } from './histogram.js';
import type { FromFleet, ToFleet, WorkloadResult } from './ipc.js';
import { cpuPerOp, perSecond } from './measure.js';
import { Child, exitWithin, waitForMessage } from './processes.js';
import type { WorkloadContext } from './workloads.js';

const FLEET_MAIN = fileURLToPath(new URL('./fleet-main.js', import.meta.url));

type Helper = Child<ToFleet, FromFleet>;
type Ran = Extract<FromFleet, { t: 'ran' }>;

export async function runFleet(spec: FleetSpec, context: WorkloadContext): Promise<WorkloadResult> {
  const { control } = context;
  const helpers: Helper[] = Array.from(
    { length: spec.processes },
    (_, i) => new Child<ToFleet, FromFleet>(`${context.driverName} W6 load generator ${i + 1}`, FLEET_MAIN, [], ['--expose-gc']),
  );
  try {
    await everyHelper(helpers, (helper) => {
      helper.send({ t: 'connect', driver: context.driverName, codec: context.options.codecName, port: context.port, connections: spec.connectionsPerProcess, spec });
      return awaitReply(helper, 'connected', spec.connectCapMs);
    });
    const connections = spec.processes * spec.connectionsPerProcess;
    await runAll(helpers, perConnection(spec.warmup, connections), false);
    await control.ask('begin', {});
    const ran = await runAll(helpers, perConnection(spec.measure, connections), true);
    const server = await control.ask('end', null);

    const completed = ran.reduce((sum, r) => sum + r.completed, 0);
    const elapsedMs = Math.max(...ran.map((r) => r.lastReplyAt)) - Math.min(...ran.map((r) => r.startedAt));
    const cpuUs = ran.reduce((sum, r) => sum + r.cpuUs, 0);
    const histogram = new LatencyHistogram();
    for (const r of ran) if (r.histogram !== undefined) histogram.add(r.histogram);
    return {
      workload: spec.name,
      operations: completed,
      elapsedMs,
      rate: perSecond(completed, elapsedMs),
      latencyUs: histogram.summary(),
      server,
      serverCpuUsPerOp: cpuPerOp(server.cpuUserUs + server.cpuSystemUs, completed),
      // All helpers together: up to `processes` cores' worth.
      clientCpuUsPerOp: cpuPerOp(cpuUs, completed),
      clientCpuLoad: elapsedMs > 0 ? cpuUs / 1000 / elapsedMs : 0,
      fleet: { processes: spec.processes, connections },
    };
  } finally {
    for (const helper of helpers) helper.send({ t: 'close' });
    await Promise.all(helpers.map((helper) => exitWithin(helper, 5_000)));
  }
}

/** A bound for the whole fleet, as each connection's share of the count. */
function perConnection(bound: Bound, connections: number): Bound {
  return { count: Math.max(1, Math.ceil(bound.count / connections)), ms: bound.ms };
}

async function runAll(helpers: Helper[], bound: Bound, measured: boolean): Promise<Ran[]> {
  return everyHelper(helpers, (helper) => {
    helper.send({ t: 'run', bound, measured });
    // A helper's loops end by their own bounds; this only catches a helper that went quiet.
    return awaitReply(helper, 'ran', bound.ms + LIMITS.controlMs) as Promise<Ran>;
  });
}

/** Runs `step` on every helper at once; the first failure fails the step. */
function everyHelper<T>(helpers: Helper[], step: (helper: Helper) => Promise<T>): Promise<T[]> {
  return Promise.all(helpers.map(step));
}

async function awaitReply(helper: Helper, t: 'connected' | 'ran', timeoutMs: number): Promise<FromFleet> {
  const message = await waitForMessage(helper, (m) => m.t === t || m.t === 'fatal', timeoutMs, t);
  if (message.t === 'fatal') throw new Error(`${helper.name}: ${message.error}`);
  return message;
}
