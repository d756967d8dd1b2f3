/**
 * Telemetry in a benchmark process (config.ts, TELEMETRY_MODES). Installed before the driver's
 * server starts or its client connects, so connections are observed from their opening, as in
 * an application that sets telemetry up at start-up:
 *
 *   off       nothing subscribes: each publish site reads `hasSubscribers` and moves on
 *   channels  a no-op subscriber on every protosocket:* channel: the messages are built and
 *             published, and nothing is done with them
 *   otel      the OpenTelemetry SDK and instrumentProtosocket() (lib/otel-sdk.ts)
 *
 * An `off` process loads nothing for it: the channels and the SDK are imported on demand.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { TelemetryMode } from './config.js';

export interface Telemetry {
  readonly mode: TelemetryMode;
  /** The spans this process's SDK exported so far, after a flush; undefined unless `otel`. */
  exportedSpans(): Promise<number | undefined>;
}

export async function installTelemetry(mode: TelemetryMode): Promise<Telemetry> {
  switch (mode) {
    case 'off':
      return { mode, exportedSpans: noSpans };
    case 'channels': {
      for (const name of await channelNames()) diagnosticsChannel.subscribe(name, ignore);
      return { mode, exportedSpans: noSpans };
    }
    case 'otel': {
      const sdk = (await import('./otel-sdk.js')).startOtelSdk();
      return { mode, exportedSpans: () => sdk.exportedSpans() };
    }
  }
}

/** Every channel the package publishes on (README, "Diagnostics channels"), named by the package itself. */
async function channelNames(): Promise<(string | symbol)[]> {
  const [core, rpc] = await Promise.all([import('../../src/core/diagnostics.js'), import('../../src/rpc/diagnostics.js')]);
  const channels = [core.connectionOpenChannel, core.connectionCloseChannel, core.frameErrorChannel, rpc.callStartChannel, rpc.callEndChannel];
  return channels.map((channel) => channel.name);
}

function ignore(): void {}

function noSpans(): Promise<undefined> {
  return Promise.resolve(undefined);
}
