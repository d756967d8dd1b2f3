/**
 * The benchmark orchestrator.
 *
 *   npm run bench                                 every driver x workload, 3 repetitions
 *   npm run bench:smoke                           the same in seconds (tiny counts, 1 repetition)
 *   npm run bench:profile -- <driver> <workload> [--client]
 *                                                 one pair, server (and with --client the load
 *                                                 generator) under --cpu-prof, top functions
 *
 * Options: --reps N, --drivers a,b, --workloads w1,w2, --telemetry off,channels,otel, --out DIR,
 * --note "text". `--workloads w2` also selects W2's telemetry rows (w2-channels, w2-otel);
 * `--telemetry` keeps the workloads of the modes named (default: all three).
 *
 * For each repetition and driver, pairs of processes (one server, one load generator; see
 * lib/schedule.ts for which workloads share a pair) are forked (lib/pair.ts) and run their
 * workloads in order; drivers rotate between repetitions so that slow drifts in machine load
 * do not always hit the same one. Results: bench/results/latest.md, latest.json, chart.svg
 * (smoke runs write to a temporary directory).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './lib/chart.js';
import { type MsgpackrInstall, probeMsgpackr } from './lib/codecs.js';
import {
  LIMITS,
  type Mode,
  TELEMETRY_MODES,
  type TelemetryMode,
  WORKLOAD_NAMES,
  type WorkloadName,
  type WorkloadSpec,
  appliesTo,
  isSelected,
  isTelemetryMode,
  isWorkloadName,
  planFor,
  serversOf,
  telemetryOf,
} from './lib/config.js';
import type { WorkloadResult } from './lib/ipc.js';
import { type PairOutcome, runPair } from './lib/pair.js';
import { killAll } from './lib/processes.js';
import { DRIVER_NAMES, type DriverName, isDriverName } from './lib/registry.js';
import { type RunMeta, formatLatency, formatValue, renderMarkdown, severalServersLines, summarize, targetLines, telemetryLines } from './lib/report.js';
import { pairsFor } from './lib/schedule.js';
import { summarizeProfile } from './profile-summary.js';

const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url));
const DEFAULT_REPS = 3;
const PROFILE_INTERVAL_US = 250;

interface Options {
  mode: Mode;
  reps: number;
  drivers: DriverName[];
  workloads: WorkloadName[];
  telemetry: TelemetryMode[];
  out: string | undefined;
  notes: string[];
  profileClient: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { mode: 'full', reps: DEFAULT_REPS, drivers: [...DRIVER_NAMES], workloads: [], telemetry: [...TELEMETRY_MODES], out: undefined, notes: [], profileClient: false };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--smoke') options.mode = 'smoke';
    else if (arg === '--profile') options.mode = 'profile';
    else if (arg === '--reps') options.reps = Number(value());
    else if (arg === '--drivers') options.drivers = value().split(',').map(driverName);
    else if (arg === '--workloads') options.workloads = value().split(',').map(workloadName);
    else if (arg === '--telemetry') options.telemetry = value().split(',').map(telemetryMode);
    else if (arg === '--out') options.out = value();
    else if (arg === '--note') options.notes.push(value());
    else if (arg === '--client') options.profileClient = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (options.mode === 'smoke') options.reps = 1;
  if (options.mode === 'profile') {
    const [driver, workload] = positional;
    if (driver === undefined || workload === undefined) throw new Error('usage: npm run bench:profile -- <driver> <workload>');
    options.drivers = [driverName(driver)];
    options.workloads = [workloadName(workload)];
    options.reps = 1;
  } else if (positional.length > 0) {
    throw new Error(`unexpected arguments: ${positional.join(' ')}`);
  }
  if (!Number.isInteger(options.reps) || options.reps < 1 || options.reps > 20) throw new Error('--reps must be 1..20');
  return options;
}

function driverName(value: string): DriverName {
  if (!isDriverName(value)) throw new Error(`unknown driver ${value} (one of ${DRIVER_NAMES.join(', ')})`);
  return value;
}

function workloadName(value: string): WorkloadName {
  const name = value.toLowerCase();
  if (!isWorkloadName(name)) throw new Error(`unknown workload ${value} (one of ${WORKLOAD_NAMES.join(', ')})`);
  return name;
}

function telemetryMode(value: string): TelemetryMode {
  if (!isTelemetryMode(value)) throw new Error(`unknown telemetry mode ${value} (one of ${TELEMETRY_MODES.join(', ')})`);
  return value;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const msgpackr = await probeMsgpackr();
  const notes = [...options.notes, msgpackrNote(msgpackr)];
  let specs = planFor(options.mode).filter((spec) => isSelected(spec, options.workloads) && options.telemetry.includes(telemetryOf(spec)));
  if (specs.length === 0) throw new Error(`no workload matches --workloads ${options.workloads.join(',') || '(all)'} with --telemetry ${options.telemetry.join(',')}`);
  if (!msgpackr.native && specs.some((spec) => spec.codec === 'msgpack')) {
    // The native variant cannot be measured here; installing the extension is not the benchmark's business.
    specs = specs.filter((spec) => spec.codec !== 'msgpack');
    notes.push('W2 msgpack with the native extension was not measured: msgpackr does not load msgpackr-extract in this installation.');
  }
  if (options.mode === 'profile') return profile(options, specs);

  const started = performance.now();
  const loadAtStart = os.loadavg();
  console.log(`bench (${options.mode}): ${options.drivers.length} drivers x ${specs.length} workloads x ${options.reps} repetition(s); load average ${fmtLoad(loadAtStart)}`);
  console.log(`  ${msgpackrNote(msgpackr)}`);
  const outcomes: PairOutcome[] = [];
  const skipped: string[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const driver of rotate(options.drivers, rep - 1)) {
      for (const pair of pairsFor(driver, rep, specs)) {
        if (options.mode === 'full' && performance.now() - started > LIMITS.fullRunMs) {
          skipped.push(`${driver} ${pair.label} rep ${rep}`);
          continue;
        }
        const outcome = await runPair(driver, rep, pair.specs, { codec: pair.codec, telemetry: pair.telemetry, servers: pair.servers, onResult: (result) => console.log(progressLine(driver, rep, result)) });
        if (outcome.failure !== undefined) {
          const where = outcome.failure.workload === undefined ? '' : ` in ${outcome.failure.workload}`;
          console.log(`  ${driver} ${pair.label} rep ${rep} FAILED${where}: ${outcome.failure.error.split('\n').slice(0, 3).join('\n    ')}`);
        }
        console.log(`  (${driver} ${pair.label} pair: ${(outcome.wallMs / 1000).toFixed(1)} s)`);
        outcomes.push(outcome);
      }
    }
  }

  if (skipped.length > 0) notes.push(`Skipped for the time budget (${LIMITS.fullRunMs / 1000} s): ${skipped.join(', ')}.`);
  if (options.mode === 'full' && Math.max(...loadAtStart, ...os.loadavg()) > os.cpus().length * 0.5) {
    notes.push('The machine was shared while this ran (see the load averages): absolute figures are noisy; ratios between transports of the same run are the ones to read.');
  }
  const meta = runMeta(options, loadAtStart, (performance.now() - started) / 1000, notes, msgpackr);
  const summary = summarize(outcomes, meta);
  const outDir = options.out ?? (options.mode === 'smoke' ? mkdtempSync(join(os.tmpdir(), 'protosocket-bench-smoke-')) : RESULTS_DIR);
  mkdirSync(outDir, { recursive: true });
  const markdown = renderMarkdown(summary);
  writeFileSync(join(outDir, 'latest.md'), `${markdown}\n`);
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, 'chart.svg'), renderChart(summary));

  console.log(`\n${markdown}`);
  console.log(options.mode === 'smoke' ? 'targets (smoke run: tiny counts, the verdicts mean nothing):' : 'targets:');
  console.log(targetLines(summary).join('\n'));
  const telemetry = telemetryLines(summary);
  if (telemetry.length > 0) console.log(`\ntelemetry, over telemetry off:\n${telemetry.join('\n')}`);
  const spread = severalServersLines(summary);
  if (spread.length > 0) console.log(`\nseveral servers (W9), over one server:\n${spread.join('\n')}`);
  console.log(`\nwrote ${join(outDir, 'latest.md')}, latest.json, chart.svg in ${meta.totalSeconds.toFixed(1)} s`);
  const problems = [
    ...summary.failures.map((f) => `${f.driver} rep ${f.rep}: ${f.error.split('\n')[0]}`),
    ...missingResults(outcomes, options.drivers, specs),
    ...unobservedCalls(outcomes),
  ];
  if (options.mode === 'smoke') problems.push(...checkOutputs(outDir));
  if (problems.length > 0) {
    console.error(`\n${options.mode} run FAILED:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  if (options.mode === 'smoke') console.log('smoke run OK: every driver ran every workload end to end (the figures of a smoke run mean nothing)');
  return 0;
}

/** One pair under --cpu-prof; prints the result and the profile's top functions. */
async function profile(options: Options, specs: WorkloadSpec[]): Promise<number> {
  const driver = options.drivers[0] as DriverName;
  const spec = specs[0];
  if (spec === undefined) throw new Error('no such workload in this installation (see the notes above)');
  if (!appliesTo(spec, driver)) throw new Error(`${spec.name} does not apply to the ${driver} driver`);
  const workload: WorkloadName = spec.name;
  const dir = join(RESULTS_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  const stem = `${driver}-${workload}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const name = `${stem}.server.cpuprofile`;
  const clientName = options.profileClient ? `${stem}.client.cpuprofile` : undefined;
  console.log(`profiling the ${driver} server${clientName === undefined ? '' : ' and load generator'} under ${workload} (node --cpu-prof, ${PROFILE_INTERVAL_US} µs sampling)`);
  const outcome = await runPair(driver, 1, specs, {
    codec: spec.codec ?? 'json',
    telemetry: telemetryOf(spec),
    servers: serversOf(spec),
    profile: { dir, name, intervalUs: PROFILE_INTERVAL_US, ...(clientName === undefined ? {} : { clientName }) },
    onResult: (result) => console.log(progressLine(driver, 1, result)),
  });
  if (outcome.failure !== undefined) {
    console.error(`FAILED: ${outcome.failure.error}`);
    return 1;
  }
  console.log(`\nSERVER ${summarizeProfile(join(dir, name))}`);
  if (clientName !== undefined) {
    console.log(`\nLOAD GENERATOR ${summarizeProfile(join(dir, clientName), { windowFile: join(dir, `${name}.window.json`) })}`);
  }
  console.log(`\nopen the .cpuprofile files in Chrome DevTools (Performance tab) or speedscope for call trees`);
  return 0;
}

function progressLine(driver: DriverName, rep: number, r: WorkloadResult): string {
  const parts = [`  rep ${rep}  ${driver.padEnd(16)} ${r.workload.padEnd(13)}`, `${formatValue(r.rate, '/s').padStart(7)}/s`];
  if (r.mbPerSec !== undefined && r.workload.startsWith('w3')) parts.push(`${r.mbPerSec.toFixed(0).padStart(5)} MB/s`);
  if (r.latencyUs !== undefined) parts.push(`p50 ${formatLatency(r.latencyUs.p50)}`, `p99 ${formatLatency(r.latencyUs.p99)}`);
  if (r.fleet !== undefined) parts.push(`${r.fleet.connections} connections in ${r.fleet.processes} processes`);
  const perServer = r.server.perServer;
  if (perServer !== undefined) {
    const total = perServer.reduce((sum, server) => sum + server.requests, 0);
    parts.push(`requests per server ${perServer.map((server) => `${((100 * server.requests) / Math.max(1, total)).toFixed(0)}%`).join(' / ')}`);
  }
  if (r.idle !== undefined) {
    const kib = r.idle.perConnectionKiB;
    parts.push(
      `${r.idle.connections} accepted in ${r.idle.acceptMs.toFixed(0)} ms`,
      `per connection: RSS ${kib.rss.toFixed(1)} KiB, heap ${kib.heapUsed.toFixed(1)} KiB, external ${kib.external.toFixed(1)} KiB`,
    );
  }
  const serverLoad = (r.server.cpuUserUs + r.server.cpuSystemUs) / 1000 / Math.max(1, r.server.elapsedMs);
  parts.push(
    `server ${r.serverCpuUsPerOp.toFixed(1)} µs CPU/op, ${serverLoad.toFixed(2)} cores, peak RSS ${(r.server.peakRssBytes / 1e6).toFixed(0)} MB`,
    `client ${r.clientCpuLoad.toFixed(2)} cores`,
  );
  const spans = r.telemetry?.exportedSpans;
  if (spans !== undefined) parts.push(`spans exported so far: client ${spans.client}, server ${spans.server}`);
  if (r.note !== undefined) parts.push(`(${r.note})`);
  return parts.join('  ');
}

function missingResults(outcomes: PairOutcome[], drivers: DriverName[], specs: WorkloadSpec[]): string[] {
  const missing: string[] = [];
  for (const driver of drivers) {
    for (const spec of specs) {
      if (appliesTo(spec, driver) && !outcomes.some((o) => o.driver === driver && o.results.some((r) => r.workload === spec.name))) missing.push(`${driver}: no result for ${spec.name}`);
    }
  }
  return missing;
}

/**
 * A request workload with the OTel SDK on must have produced spans on both sides: otherwise the
 * instrumentation was not on, and the row would claim a cost it never measured.
 */
function unobservedCalls(outcomes: PairOutcome[]): string[] {
  return outcomes.flatMap((outcome) =>
    outcome.results
      .filter((r) => r.telemetry?.mode === 'otel' && r.latencyUs !== undefined)
      .filter((r) => r.telemetry?.exportedSpans === undefined || r.telemetry.exportedSpans.client === 0 || r.telemetry.exportedSpans.server === 0)
      .map((r) => `${outcome.driver} rep ${outcome.rep}: ${r.workload} ran with the OTel SDK on but exported no spans (${JSON.stringify(r.telemetry?.exportedSpans ?? null)})`),
  );
}

/** Smoke runs prove the outputs are written and readable. */
function checkOutputs(dir: string): string[] {
  const problems: string[] = [];
  try {
    const json = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as { figures?: unknown[]; targets?: unknown[] };
    if (!Array.isArray(json.figures) || json.figures.length === 0 || !Array.isArray(json.targets)) problems.push('latest.json has no figures or targets');
  } catch (err) {
    problems.push(`latest.json unreadable: ${String(err)}`);
  }
  const svg = readFileSync(join(dir, 'chart.svg'), 'utf8');
  if (!svg.startsWith('<svg') || !svg.trimEnd().endsWith('</svg>') || !svg.includes('<rect x=')) problems.push('chart.svg is not a chart');
  if (!readFileSync(join(dir, 'latest.md'), 'utf8').includes('| Figure |')) problems.push('latest.md has no table');
  return problems;
}

function msgpackrNote(install: MsgpackrInstall): string {
  const extract = install.extract === undefined ? 'msgpackr-extract is not installed' : `msgpackr-extract ${install.extract} is installed`;
  return `msgpackr ${install.version}: ${extract}; its native string extractor is ${install.native ? 'loaded' : 'not loaded'} in this environment.`;
}

function runMeta(options: Options, loadAtStart: number[], totalSeconds: number, notes: string[], msgpackr: MsgpackrInstall): RunMeta {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    mode: options.mode,
    reps: options.reps,
    node: process.versions.node,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: `${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    loadAverage: { start: loadAtStart, end: os.loadavg() },
    git: gitState(),
    totalSeconds,
    msgpackr,
    notes,
  };
}

function gitState(): RunMeta['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => line.slice(3));
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function fmtLoad(load: number[]): string {
  return load.map((l) => l.toFixed(2)).join(' ');
}

main().then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (err: unknown) => {
    killAll();
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
