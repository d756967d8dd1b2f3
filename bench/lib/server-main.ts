/**
 * The server process: `node server-main.js <driver> <codec> <telemetry> <host> [window-file]`.
 * Installs the telemetry, starts the driver's server on `host` (127.0.0.1, or 127.0.0.2, ...
 * for the other servers of a pair: lib/config.ts `serverHost`), reports its port, then answers the
 * orchestrator's control requests until told to shut down (or until the orchestrator goes away).
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { loadCodec } from './codecs.js';
import { LIMITS, isCodecName, isTelemetryMode } from './config.js';
import type { DriverServer } from './driver.js';
import { type Answer, type ControlOp, type ControlOps, type ToServer, describeError, die, exitWithParent, sendToParent } from './ipc.js';
import { isDriverName, loadDriver } from './registry.js';
import { collectGarbage } from './gc.js';
import { ServerStats } from './server-stats.js';
import { type Telemetry, installTelemetry } from './telemetry.js';

const [name = '', codecName = '', telemetryMode = '', host = '', windowFile] = process.argv.slice(2);

async function main(): Promise<void> {
  exitWithParent();
  if (!isDriverName(name)) throw new Error(`unknown driver ${name}`);
  if (!isCodecName(codecName)) throw new Error(`unknown codec ${codecName}`);
  if (!isTelemetryMode(telemetryMode)) throw new Error(`unknown telemetry mode ${telemetryMode}`);
  if (host === '') throw new Error('no host to listen on');
  const telemetry = await installTelemetry(telemetryMode);
  const stats = new ServerStats();
  const driver = await loadDriver(name);
  const server = await driver.startServer(stats.hooks, { codecName, codec: await loadCodec(codecName) }, host);
  stats.watch(server.netServer);
  collectGarbage();
  process.on('message', (message: ToServer) => {
    if (message.t === 'shutdown') void shutdown(server);
    else void answer(message.id, () => control(stats, telemetry, message.op, message.arg));
  });
  sendToParent({ t: 'ready', port: server.port, idleRssBytes: process.memoryUsage.rss() });
}

function control(stats: ServerStats, telemetry: Telemetry, op: ControlOp, arg: unknown): unknown {
  switch (op) {
    case 'begin': {
      const { expectEvents, expectConnections } = arg as ControlOps['begin']['arg'];
      stats.begin(expectEvents, expectConnections);
      return null;
    }
    case 'end': {
      const window = stats.end();
      // Profile runs: the measured windows, so the profile summary can leave out warm-up.
      if (windowFile !== undefined) writeFileSync(windowFile, JSON.stringify({ windows: stats.windows }));
      // Flushed after the window closed, so the flush is not in its CPU time.
      return telemetry.exportedSpans().then((spans) => (spans === undefined ? window : { ...window, exportedSpans: spans }));
    }
    case 'waitEvents':
      return stats.waitEvents((arg as { capMs: number }).capMs);
    case 'waitConnections':
      return stats.waitConnections((arg as { capMs: number }).capMs);
    case 'memory':
      return stats.memory();
  }
}

async function answer(id: number, run: () => unknown): Promise<void> {
  let reply: Answer;
  try {
    reply = { t: 'answer', id, ok: true, value: await run() };
  } catch (err) {
    reply = { t: 'answer', id, ok: false, error: describeError(err) };
  }
  sendToParent(reply);
}

/** Closes the server, then exits normally: --cpu-prof writes its profile on a normal exit. */
async function shutdown(server: DriverServer): Promise<void> {
  setTimeout(() => process.exit(0), LIMITS.serverStopMs / 2).unref();
  try {
    await server.close();
  } finally {
    process.exit(0);
  }
}

main().catch(die);
