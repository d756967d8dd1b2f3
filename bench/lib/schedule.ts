/**
 * Which pairs of processes a repetition starts for a driver, and which workloads each runs.
 *
 *   main pair (JSON)      W1 ... W5, the awaited forms, W8     in the order of the plan
 *   one pair per codec    W2 with msgpack / protobuf           protosocket drivers only
 *   one pair per          W2 and W4 with channels subscribed,  protosocket drivers only; the
 *   telemetry mode        with the OTel SDK on                 mode is process-wide, from start-up
 *   one pair each         W6, W7 (isolated)                    fresh processes, so their
 *                                                              memory figures start clean
 *   one pair with 3       W9 (one client over 2 and over 3     protosocket drivers only; W9
 *   server processes      servers)                             over 2 asks only the first two
 *
 * A workload with `reps` is left out of the later repetitions.
 */
import { type CodecName, type TelemetryMode, type WorkloadSpec, appliesTo, serversOf, telemetryOf } from './config.js';
import type { DriverName } from './registry.js';

export interface PairPlan {
  /** For progress lines: "json", "msgpack", "otel", "w7"... */
  label: string;
  codec: CodecName;
  telemetry: TelemetryMode;
  /** Server processes in the pair: the most any of its workloads runs against. */
  servers: number;
  specs: WorkloadSpec[];
}

export function pairsFor(driver: DriverName, rep: number, specs: readonly WorkloadSpec[]): PairPlan[] {
  const pairs = new Map<string, PairPlan>();
  for (const spec of specs) {
    if (!appliesTo(spec, driver) || rep > (spec.reps ?? Number.POSITIVE_INFINITY)) continue;
    const codec = spec.codec ?? 'json';
    const telemetry = telemetryOf(spec);
    const shared = telemetry === 'off' ? codec : `${codec}+${telemetry}`;
    const servers = serversOf(spec);
    const key = spec.isolated === true ? `${shared}:${spec.name}` : servers > 1 ? `${shared}:servers` : shared;
    const label = spec.isolated === true ? spec.name : servers > 1 ? 'servers' : telemetry === 'off' ? codec : telemetry;
    const pair = pairs.get(key) ?? { label, codec, telemetry, servers: 1, specs: [] };
    pair.servers = Math.max(pair.servers, servers);
    pair.specs.push(spec);
    pairs.set(key, pair);
  }
  return [...pairs.values()];
}
