/**
 * A W6 helper process (fleet.ts forks several): opens its share of the connections with the
 * pair's driver, runs a closed loop on each when told to, and reports what it measured.
 */
import 'reflect-metadata';
import { loadCodec } from './codecs.js';
import { monotonicMs } from './clock.js';
import { type Bound, type FleetSpec, jsonPayload } from './config.js';
import type { DriverClient } from './driver.js';
import { collectGarbage } from './gc.js';
import { LatencyHistogram } from './histogram.js';
import { type FromFleet, type ToFleet, die, exitWithParent, sendToParent } from './ipc.js';
import { type ClientTarget, closeClients, closedLoop, openClients } from './loops.js';
import { CpuMeter } from './measure.js';
import { loadDriver } from './registry.js';

/** Connects outstanding at a time while opening. */
const CONNECT_CONCURRENCY = 50;
const CLOSE_CAP_MS = 3_000;

interface Fleet {
  spec: FleetSpec;
  clients: DriverClient[];
}

let fleet: Fleet | undefined;

function main(): void {
  exitWithParent();
  process.on('message', (message: ToFleet) => void handle(message).catch((err: unknown) => die(err)));
}

async function handle(message: ToFleet): Promise<void> {
  switch (message.t) {
    case 'connect': {
      const target: ClientTarget = {
        driver: await loadDriver(message.driver),
        options: { codecName: message.codec, codec: await loadCodec(message.codec) },
        port: message.port,
      };
      const clients: DriverClient[] = [];
      fleet = { spec: message.spec, clients };
      await openClients(target, message.connections, CONNECT_CONCURRENCY, message.spec.connectCapMs, clients);
      sendToParent({ t: 'connected' });
      return;
    }
    case 'run':
      sendToParent(await run(message.bound, message.measured));
      return;
    case 'close':
      await closeClients(fleet?.clients ?? [], CLOSE_CAP_MS);
      process.exit(0);
  }
}

/** One closed loop per connection, all with the same bound; then what they did together. */
async function run(bound: Bound, measured: boolean): Promise<Extract<FromFleet, { t: 'ran' }>> {
  if (fleet === undefined) throw new Error('run before connect');
  const { spec, clients } = fleet;
  const payload = jsonPayload(spec.size);
  const histogram = measured ? new LatencyHistogram() : undefined;
  // performance.now() is this process's clock; the coordinator adds up times of several processes.
  const offset = monotonicMs() - performance.now();
  const cpu = new CpuMeter();
  const loops = await Promise.all(clients.map((client) => closedLoop(client, payload, spec, bound, histogram)));
  const cpuUs = cpu.read();
  if (!measured) collectGarbage();
  return {
    t: 'ran',
    completed: loops.reduce((sum, loop) => sum + loop.completed, 0),
    startedAt: offset + Math.min(...loops.map((loop) => loop.startedAt)),
    lastReplyAt: offset + Math.max(...loops.map((loop) => loop.lastReplyAt)),
    cpuUs,
    ...(histogram === undefined ? {} : { histogram: histogram.encode() }),
  };
}

main();
