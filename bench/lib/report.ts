/**
 * Turns the runs into results: the median of each figure over the repetitions, its ratio to
 * Nest TCP and to raw net from the same run (and, for a figure measured with telemetry on, to
 * the same driver's figure with telemetry off; for one measured against several servers, to
 * the same driver's figure against one), the targets, and the markdown tables.
 */
import { TELEMETRY_LABELS, type TelemetryMode, WORKLOAD_LABELS, WORKLOAD_NAMES, type WorkloadName, telemetryVariant } from './config.js';
import type { WorkloadResult } from './ipc.js';
import type { PairOutcome } from './pair.js';
import { DRIVER_LABELS, DRIVER_NAMES, type DriverName, NEST_TCP, RAW_NET } from './registry.js';

export interface RunMeta {
  date: string;
  mode: string;
  reps: number;
  node: string;
  platform: string;
  cpus: string;
  loadAverage: { start: number[]; end: number[] };
  git: { commit: string; dirty: string[] };
  totalSeconds: number;
  /** What msgpackr loads in this installation (lib/codecs.ts). */
  msgpackr?: { version: string; extract: string | undefined; native: boolean };
  notes: string[];
}

export interface Figure {
  id: string;
  /** The workload whose result the figure comes from; none for per-process figures. */
  workload?: WorkloadName;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Which table it belongs in. */
  table: 'main' | 'server';
  /**
   * The figure this one is a variant of (another call style, codec): where Nest TCP or raw net
   * has no cell in this figure, its ratios are to their cell in the reference.
   */
  reference?: string;
  /**
   * Measured with telemetry on: `reference` is the same figure with telemetry off, and each cell
   * also gets its ratio to that driver's cell there (`vsOff`).
   */
  telemetry?: TelemetryMode;
  /**
   * Measured from one client over this many servers (W9): `reference` is the same figure against
   * one server, and each cell also gets its ratio to that driver's cell there (`vsOne`).
   */
  servers?: number;
  pick(result: WorkloadResult | undefined, outcome: PairOutcome): number | undefined;
}

const MB = 1e6;

// The figures that are also measured with telemetry on.
const W2_RATE: Figure = { id: 'w2.rate', workload: 'w2', label: 'W2 throughput', unit: 'req/s', better: 'higher', table: 'main', pick: (r) => r?.rate };
const W2_SERVER_CPU: Figure = { id: 'w2.cpu', workload: 'w2', label: 'W2 server CPU per request', unit: 'µs', better: 'lower', table: 'main', pick: (r) => r?.serverCpuUsPerOp };
const W2_CLIENT_CPU: Figure = clientCpu('w2', 'W2 load-generator CPU per request');
const W2_P99: Figure = latency('w2', 'p99', 'W2 latency p99');
const W9_FIGURES: Figure[] = [...severalServers(2), ...severalServers(3)];
const W9_IDS: ReadonlySet<string> = new Set(W9_FIGURES.map((figure) => figure.id));
const W4_RATE: Figure = { id: 'w4.rate', workload: 'w4', label: 'W4 events received', unit: 'events/s', better: 'higher', table: 'main', pick: (r) => r?.rate };
/** In the main table for its telemetry rows only; the W4 row of the server table is the same figure. */
const W4_SERVER_CPU: Figure = { id: 'w4.cpu-op', workload: 'w4', label: 'W4 server CPU per event', unit: 'µs', better: 'lower', table: 'main', pick: (r) => r?.serverCpuUsPerOp };

export const FIGURES: Figure[] = [
  latency('w1', 'p50', 'W1 latency p50'),
  latency('w1', 'p99', 'W1 latency p99'),
  latency('w1', 'p999', 'W1 latency p99.9'),
  W2_RATE,
  latency('w2', 'p50', 'W2 latency p50'),
  W2_P99,
  W2_SERVER_CPU,
  { id: 'w2.rss', workload: 'w2', label: 'W2 server peak RSS', unit: 'MB', better: 'lower', table: 'main', pick: (r) => mb(r?.server.peakRssBytes) },
  {
    id: 'w2.rss-growth',
    workload: 'w2',
    label: 'W2 server RSS growth over idle',
    unit: 'MB',
    better: 'lower',
    table: 'main',
    pick: (r, o) => mb(r === undefined ? undefined : r.server.peakRssBytes - o.idleRssBytes),
  },
  { id: 'w3-json.mbps', workload: 'w3-json', label: 'W3 64 KiB JSON string', unit: 'MB/s', better: 'higher', table: 'main', pick: (r) => r?.mbPerSec },
  { id: 'w3-bytes.mbps', workload: 'w3-bytes', label: 'W3 64 KiB Buffer', unit: 'MB/s', better: 'higher', table: 'main', pick: (r) => r?.mbPerSec },
  W4_RATE,
  { id: 'w5.rate', workload: 'w5', label: 'W5 streamed messages', unit: 'msg/s', better: 'higher', table: 'main', pick: (r) => r?.rate },
  // The call style a user writes, next to the callback/observer style above.
  { ...latency('w1-await', 'p50', 'W1 latency p50, awaited calls'), reference: 'w1.p50' },
  { ...latency('w1-await', 'p99', 'W1 latency p99, awaited calls'), reference: 'w1.p99' },
  { id: 'w2-await.rate', workload: 'w2-await', label: 'W2 throughput, awaited calls', unit: 'req/s', better: 'higher', table: 'main', reference: 'w2.rate', pick: (r) => r?.rate },
  W2_CLIENT_CPU,
  { ...clientCpu('w2-await', 'W2 load-generator CPU per request, awaited calls'), reference: 'w2.client-cpu' },
  { id: 'w5-await.rate', workload: 'w5-await', label: 'W5 streamed messages, for await', unit: 'msg/s', better: 'higher', table: 'main', reference: 'w5.rate', pick: (r) => r?.rate },
  // Codecs: W2 with each codec, next to JSON.
  codecRate('w2-msgpack', 'W2 throughput, msgpack codec'),
  codecRate('w2-msgpack-js', 'W2 throughput, msgpack codec without its native extension'),
  codecRate('w2-protobuf', 'W2 throughput, protobuf codec'),
  // Telemetry: W2 and W4 with channels subscribed, with the OTel SDK on; ratios to telemetry off too.
  ...telemetryFigures(W2_RATE, 'w2', 'rate'),
  ...telemetryFigures(W4_RATE, 'w4', 'rate'),
  ...telemetryFigures(W2_SERVER_CPU, 'w2', 'cpu'),
  ...telemetryFigures(W4_SERVER_CPU, 'w4', 'cpu'),
  ...telemetryFigures(W2_CLIENT_CPU, 'w2', 'client-cpu'),
  // How cost grows with connections and calls in flight.
  { id: 'w6.rate', workload: 'w6', label: 'W6 throughput, 1,000 connections x 4 in flight', unit: 'req/s', better: 'higher', table: 'main', pick: (r) => r?.rate },
  latency('w6', 'p99', 'W6 latency p99'),
  { id: 'w6.rss', workload: 'w6', label: 'W6 server peak RSS', unit: 'MB', better: 'lower', table: 'main', pick: (r) => mb(r?.server.peakRssBytes) },
  {
    id: 'w6.rss-growth',
    workload: 'w6',
    label: 'W6 server RSS growth over idle',
    unit: 'MB',
    better: 'lower',
    table: 'main',
    pick: (r, o) => mb(r === undefined ? undefined : r.server.peakRssBytes - o.idleRssBytes),
  },
  // One client over 2 and 3 servers (p2c), next to the single-server W2; ratios to it too.
  ...W9_FIGURES,
  perIdleConnection('rss', 'W7 server RSS per idle connection'),
  perIdleConnection('heapUsed', 'W7 server JS heap per idle connection'),
  perIdleConnection('external', 'W7 server external memory per idle connection (Buffers included)'),
  { id: 'w7.accept', workload: 'w7', label: 'W7 time to accept every connection', unit: 'ms', better: 'lower', table: 'main', pick: (r) => r?.idle?.acceptMs },
  { id: 'w8.rate', workload: 'w8', label: 'W8 throughput, 4,096 in flight on one connection', unit: 'req/s', better: 'higher', table: 'main', pick: (r) => r?.rate },
  latency('w8', 'p99', 'W8 latency p99'),
  { id: 'idle.rss', label: 'Server RSS after start-up (idle)', unit: 'MB', better: 'lower', table: 'server', pick: (_r, o) => (o.idleRssBytes > 0 ? mb(o.idleRssBytes) : undefined) },
  ...WORKLOAD_NAMES.flatMap((workload): Figure[] =>
    (
      [
        { id: `${workload}.peak-rss`, workload, label: `${WORKLOAD_LABELS[workload]} server peak RSS`, unit: 'MB', better: 'lower', table: 'server', pick: (r) => mb(r?.server.peakRssBytes) },
        { id: `${workload}.cpu-op`, workload, label: `${WORKLOAD_LABELS[workload]} server CPU per operation`, unit: 'µs', better: 'lower', table: 'server', pick: (r) => r?.serverCpuUsPerOp },
        { id: `${workload}.server-load`, workload, label: `${WORKLOAD_LABELS[workload]} server CPU load`, unit: 'cores', better: 'lower', table: 'server', pick: serverLoad },
        { id: `${workload}.client-load`, workload, label: `${WORKLOAD_LABELS[workload]} load-generator CPU load`, unit: 'cores', better: 'lower', table: 'server', pick: (r) => r?.clientCpuLoad },
      ] satisfies Figure[]
    ).map((figure: Figure) => linkToOff(figure, workload)),
  ),
];

/** CPU seconds per second in the server's window: 1.0 means one core fully busy. */
function serverLoad(result: WorkloadResult | undefined): number | undefined {
  if (result === undefined || result.server.elapsedMs <= 0) return undefined;
  return (result.server.cpuUserUs + result.server.cpuSystemUs) / 1000 / result.server.elapsedMs;
}

function mb(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / MB;
}

function latency(workload: WorkloadName, percentile: 'p50' | 'p99' | 'p999', label: string): Figure {
  return { id: `${workload}.${percentile}`, workload, label, unit: 'µs', better: 'lower', table: 'main', pick: (r) => r?.latencyUs?.[percentile] };
}

function clientCpu(workload: WorkloadName, label: string): Figure {
  return { id: `${workload}.client-cpu`, workload, label, unit: 'µs', better: 'lower', table: 'main', pick: (r) => r?.clientCpuUsPerOp };
}

/** Only the protosocket drivers have codecs: their ratios are to the JSON W2 of Nest TCP and raw net. */
function codecRate(workload: WorkloadName, label: string): Figure {
  return { id: `${workload}.rate`, workload, label, unit: 'req/s', better: 'higher', table: 'main', reference: 'w2.rate', pick: (r) => r?.rate };
}

/** A figure of workload `of` (telemetry off), measured again with each telemetry mode on (config.ts): `<of>-<mode>.<key>`. */
function telemetryFigures(off: Figure, of: 'w2' | 'w4', key: string): Figure[] {
  return (['channels', 'otel'] as const).map((mode): Figure => {
    const workload = `${of}-${mode}` as const;
    return { ...off, id: `${workload}.${key}`, workload, label: `${off.label}, ${TELEMETRY_LABELS[mode]}`, reference: off.id, telemetry: mode };
  });
}

/** A per-workload figure of a telemetry variant: its reference is the same figure of the workload it repeats. */
function linkToOff(figure: Figure, workload: WorkloadName): Figure {
  const variant = telemetryVariant(workload);
  if (variant === undefined) return figure;
  return { ...figure, reference: `${variant.of}${figure.id.slice(workload.length)}`, telemetry: variant.mode };
}

/** W9's figures against `servers` servers: W2's throughput, p99 and load-generator CPU, and how evenly the requests spread. */
function severalServers(servers: 2 | 3): Figure[] {
  const workload = `w9-${servers}` as const;
  const over = `${servers} servers (p2c)`;
  const against = (off: Figure, label: string): Figure => ({ ...off, id: `${workload}.${off.id.slice('w2.'.length)}`, workload, label, reference: off.id, servers });
  return [
    against(W2_RATE, `W9 throughput, one client over ${over}`),
    against(W2_P99, `W9 latency p99, ${over}`),
    against(W2_CLIENT_CPU, `W9 load-generator CPU per request, ${over}`),
    {
      id: `${workload}.share`,
      workload,
      label: `W9 ${servers} servers: requests served by the busiest server (${(100 / servers).toFixed(0)}% if even)`,
      unit: '%',
      better: 'lower',
      table: 'server',
      pick: busiestShare,
    },
  ];
}

/** The share of a window's requests that the server with the most of them served, in %. */
function busiestShare(result: WorkloadResult | undefined): number | undefined {
  const servers = result?.server.perServer;
  if (servers === undefined || servers.length === 0) return undefined;
  const total = servers.reduce((sum, server) => sum + server.requests, 0);
  return total > 0 ? (100 * Math.max(...servers.map((server) => server.requests))) / total : undefined;
}

function perIdleConnection(key: 'rss' | 'heapUsed' | 'external', label: string): Figure {
  return { id: `w7.${key}`, workload: 'w7', label, unit: 'KiB', better: 'lower', table: 'main', pick: (r) => r?.idle?.perConnectionKiB[key] };
}

export interface Cell {
  median: number;
  reps: number[];
  /** (max - min) / median over the repetitions. */
  spread: number;
  vsNestTcp?: number;
  vsRawNet?: number;
  /** Telemetry rows: the ratio to the same driver's cell with telemetry off, same run. */
  vsOff?: number;
  /** Rows against several servers (W9): the ratio to the same driver's cell against one, same run. */
  vsOne?: number;
}

export interface FigureResult {
  id: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  table: 'main' | 'server';
  reference?: string;
  telemetry?: TelemetryMode;
  servers?: number;
  cells: Partial<Record<DriverName, Cell>>;
}

export interface Target {
  id: string;
  text: string;
  driver: DriverName;
  figure: string;
  reference: DriverName;
  /** value / reference must be >= threshold (higher is better) or <= threshold (lower). */
  threshold: number;
  ratio?: number;
  pass?: boolean;
}

/** The issue's targets, as ratios between medians of the same run. */
const TARGETS: Omit<Target, 'ratio' | 'pass' | 'text'>[] = [
  { id: 'T1', driver: 'nest-protosocket', figure: 'w2.rate', reference: NEST_TCP, threshold: 3.5 },
  { id: 'T2', driver: 'nest-protosocket', figure: 'w2.rate', reference: RAW_NET, threshold: 0.9 },
  { id: 'T3', driver: 'rpc', figure: 'w2.rate', reference: RAW_NET, threshold: 1.2 },
  { id: 'T4', driver: 'nest-protosocket', figure: 'w1.p50', reference: RAW_NET, threshold: 1.05 },
  { id: 'T5', driver: 'rpc', figure: 'w1.p50', reference: RAW_NET, threshold: 1.05 },
  { id: 'T6', driver: 'nest-protosocket', figure: 'w3-bytes.mbps', reference: NEST_TCP, threshold: 3 },
  { id: 'T7', driver: 'nest-protosocket', figure: 'w3-json.mbps', reference: NEST_TCP, threshold: 1 },
  { id: 'T8', driver: 'nest-protosocket', figure: 'w4.rate', reference: NEST_TCP, threshold: 8 },
  { id: 'T9', driver: 'nest-protosocket', figure: 'w5.rate', reference: NEST_TCP, threshold: 3 },
  { id: 'T10', driver: 'nest-protosocket', figure: 'w2.rss', reference: NEST_TCP, threshold: 0.6 },
];

export interface Summary {
  meta: RunMeta;
  drivers: { name: DriverName; label: string }[];
  figures: FigureResult[];
  targets: Target[];
  failures: { driver: DriverName; rep: number; workload?: string; error: string }[];
  runs: PairOutcome[];
}

export function summarize(outcomes: PairOutcome[], meta: RunMeta): Summary {
  const drivers = DRIVER_NAMES.filter((name) => outcomes.some((o) => o.driver === name));
  const figures = FIGURES.map((figure) => summarizeFigure(figure, outcomes, drivers));
  const byId = new Map(figures.map((f) => [f.id, f]));
  for (const figure of figures) {
    const reference = figure.reference === undefined ? undefined : byId.get(figure.reference);
    addRatios(figure, reference);
    if (figure.telemetry !== undefined && reference !== undefined) addRatiosToSameDriver(figure, reference, 'vsOff');
    if (figure.servers !== undefined && reference !== undefined) addRatiosToSameDriver(figure, reference, 'vsOne');
  }
  const targets = TARGETS.map((t): Target => {
    const figure = byId.get(t.figure);
    const value = figure?.cells[t.driver]?.median;
    const reference = figure?.cells[t.reference]?.median;
    const ratio = value !== undefined && reference !== undefined && reference > 0 ? value / reference : undefined;
    const better = figure?.better ?? 'higher';
    const pass = ratio === undefined ? undefined : better === 'higher' ? ratio >= t.threshold : ratio <= t.threshold;
    const text = `${figure?.label ?? t.figure} (${figure?.unit ?? ''}), ${DRIVER_LABELS[t.driver]} vs ${DRIVER_LABELS[t.reference]}: target ${better === 'higher' ? '>=' : '<='} ${t.threshold}x`;
    return { ...t, text, ...(ratio === undefined ? {} : { ratio }), ...(pass === undefined ? {} : { pass }) };
  });
  const failures = outcomes.flatMap((o) => (o.failure === undefined ? [] : [{ driver: o.driver, rep: o.rep, ...o.failure }]));
  return { meta, drivers: drivers.map((name) => ({ name, label: DRIVER_LABELS[name] })), figures, targets, failures, runs: outcomes };
}

function summarizeFigure(figure: Figure, outcomes: PairOutcome[], drivers: DriverName[]): FigureResult {
  const cells: Partial<Record<DriverName, Cell>> = {};
  for (const driver of drivers) {
    const reps: number[] = [];
    for (const outcome of outcomes) {
      if (outcome.driver !== driver) continue;
      const result = outcome.results.find((r) => r.workload === figure.workload);
      if (figure.workload !== undefined && result === undefined) continue;
      const value = figure.pick(result, outcome);
      if (value !== undefined && Number.isFinite(value)) reps.push(value);
    }
    if (reps.length === 0) continue;
    const m = median(reps);
    cells[driver] = { median: m, reps, spread: m > 0 ? (Math.max(...reps) - Math.min(...reps)) / m : 0 };
  }
  const { pick: _pick, workload: _workload, ...rest } = figure;
  return { ...rest, cells };
}

/** Each cell over Nest TCP's and raw net's: in the same figure, or else in its reference. */
function addRatios(figure: FigureResult, reference: FigureResult | undefined): void {
  const nestTcp = (figure.cells[NEST_TCP] ?? reference?.cells[NEST_TCP])?.median;
  const rawNet = (figure.cells[RAW_NET] ?? reference?.cells[RAW_NET])?.median;
  for (const cell of Object.values(figure.cells)) {
    if (nestTcp !== undefined && nestTcp > 0) cell.vsNestTcp = cell.median / nestTcp;
    if (rawNet !== undefined && rawNet > 0) cell.vsRawNet = cell.median / rawNet;
  }
}

/** Each cell over the same driver's cell in `base` (telemetry off: `vsOff`; one server: `vsOne`). */
function addRatiosToSameDriver(figure: FigureResult, base: FigureResult, key: 'vsOff' | 'vsOne'): void {
  for (const [driver, cell] of Object.entries(figure.cells) as [DriverName, Cell][]) {
    const value = base.cells[driver]?.median;
    if (value !== undefined && value > 0) cell[key] = cell.median / value;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

// Markdown

/** A repetition spread above this marks the cell: the machine was noisy for that figure. */
const NOISY_SPREAD = 0.25;

export function renderMarkdown(summary: Summary): string {
  const { meta } = summary;
  const lines: string[] = [];
  lines.push(`# Benchmark results (${meta.mode})`, '');
  lines.push(
    `${meta.date} · Node ${meta.node} · ${meta.platform} · ${meta.cpus} · ${meta.reps} repetition(s), medians · ` +
      `load average ${fmtLoad(meta.loadAverage.start)} at start, ${fmtLoad(meta.loadAverage.end)} at end · ` +
      `commit ${meta.git.commit}${meta.git.dirty.length > 0 ? ` + uncommitted changes in ${meta.git.dirty.length} file(s)` : ''} · ` +
      `${meta.totalSeconds.toFixed(0)} s in total`,
    '',
  );
  for (const note of meta.notes) lines.push(`> ${note}`, '');
  lines.push(
    'Each cell: median value, then its ratio to Nest TCP and to raw net from the same run (`×Nest TCP / ×raw net`). ↑ higher is better, ↓ lower is better. † marks a figure whose repetitions spread more than 25% around the median. ' +
      'A row marked "ratios vs X" is a variant of row X (another call style, codec or telemetry mode): where Nest TCP or raw net has no cell in it, the ratio is to their cell in X. ' +
      'A row measured with telemetry on (channels subscribed, OTel SDK on) starts with its ratio to the same driver in X, with telemetry off (`×off`); ' +
      'a row measured from one client over several servers (W9) with its ratio to the same driver in X, against one server (`×1 server`).',
    '',
  );
  lines.push(...renderTable(summary, 'main'), '');
  lines.push('## Targets', '', '```', ...targetLines(summary), '```', '');
  const telemetry = telemetryLines(summary);
  if (telemetry.length > 0) {
    lines.push(
      '## Telemetry',
      '',
      'Each figure measured with telemetry on, over the same driver\'s figure with telemetry off, same run (1.00× is no cost; throughput ↑, CPU per request ↓).',
      '',
      '```',
      ...telemetry,
      '```',
      '',
    );
  }
  const spread = severalServersLines(summary);
  if (spread.length > 0) {
    lines.push(
      '## Several servers',
      '',
      "W9: W2's shape (256 in flight, 64 B) from one client over 2 and 3 server processes on 127.0.0.1, .2, .3 (p2c), over the same driver's single-server W2, same run. " +
        "The load-generator CPU ratio with 3 servers is what p2c costs per call, together with spreading the calls over three connections (three sockets' reads and writes where W2 has one). " +
        'Server processes and the load generator share the machine\'s cores, so throughput can only grow with servers where the load generator has a core to spare.',
      '',
      '```',
      ...spread,
      '```',
      '',
    );
  }
  lines.push(
    '## Resources per workload',
    '',
    'Server: peak RSS in the measured window (sampled every 50 ms), CPU time (user + system) per request, event or streamed message, and CPU load (CPU seconds per second; 1.00 is one core saturated). ' +
      'Load generator: its own CPU load in the window; near 1.00 the client side, not the server, limits the throughput. ' +
      "Each driver's server process runs the workloads in the order listed, with a GC before each window.",
    '',
  );
  lines.push(...renderTable(summary, 'server'), '');
  if (summary.failures.length > 0) {
    lines.push('## Failures', '');
    for (const f of summary.failures) lines.push(`- ${f.driver} rep ${f.rep}${f.workload === undefined ? '' : ` (${f.workload})`}: ${firstLine(f.error)}`);
    lines.push('');
  }
  return lines.join('\n');
}

function renderTable(summary: Summary, table: 'main' | 'server'): string[] {
  const drivers = summary.drivers;
  const header = `| Figure | ${drivers.map((d) => d.label).join(' | ')} |`;
  const rule = `|---|${drivers.map(() => '---:').join('|')}|`;
  const labels = new Map(summary.figures.map((f) => [f.id, f.label]));
  const rows = summary.figures
    .filter((f) => f.table === table && Object.keys(f.cells).length > 0)
    .map((f) => {
      const cells = drivers.map((d) => renderCell(f, f.cells[d.name]));
      const reference = f.reference === undefined ? '' : ` <sub>ratios vs ${labels.get(f.reference) ?? f.reference}</sub>`;
      return `| ${f.label} (${f.unit}) ${f.better === 'higher' ? '↑' : '↓'}${reference} | ${cells.join(' | ')} |`;
    });
  return [header, rule, ...rows];
}

function renderCell(figure: FigureResult, cell: Cell | undefined): string {
  if (cell === undefined) return '–';
  const toOff = figure.telemetry === undefined ? '' : `${fmtRatio(cell.vsOff)} off · `;
  const toOne = figure.servers === undefined ? '' : `${fmtRatio(cell.vsOne)} 1 server · `;
  const ratios = `${toOff}${toOne}${fmtRatio(cell.vsNestTcp)} / ${fmtRatio(cell.vsRawNet)}`;
  return `${formatValue(cell.median, figure.unit)}${cell.spread > NOISY_SPREAD ? ' †' : ''} <sub>${ratios}</sub>`;
}

export function targetLines(summary: Summary): string[] {
  return summary.targets.map((t) => {
    const verdict = t.pass === undefined ? 'N/A ' : t.pass ? 'PASS' : 'FAIL';
    const measured = t.ratio === undefined ? 'not measured' : `measured ${t.ratio.toFixed(2)}x`;
    return `${verdict} ${t.id.padEnd(3)} ${t.text}; ${measured}`;
  });
}

/** The telemetry rows' ratios to telemetry off, one line per figure. */
export function telemetryLines(summary: Summary): string[] {
  return summary.figures
    .filter((f) => f.telemetry !== undefined && f.table === 'main' && Object.keys(f.cells).length > 0)
    .map((f) => {
      const ratios = summary.drivers.flatMap((d) => {
        const ratio = f.cells[d.name]?.vsOff;
        return ratio === undefined ? [] : [`${d.label} ${fmtRatio(ratio)}`];
      });
      return `${f.label} (${f.unit}) ${f.better === 'higher' ? '↑' : '↓'}, over telemetry off: ${ratios.join(', ')}`;
    });
}

/** W9's rows: each over the same driver against one server, and how evenly the requests spread. */
export function severalServersLines(summary: Summary): string[] {
  return summary.figures
    .filter((f) => W9_IDS.has(f.id) && Object.keys(f.cells).length > 0)
    .map((f) => {
      const cells = summary.drivers.flatMap((d) => {
        const cell = f.cells[d.name];
        if (cell === undefined) return [];
        return [f.servers === undefined ? `${d.label} ${formatValue(cell.median, f.unit)}${f.unit}` : `${d.label} ${fmtRatio(cell.vsOne)}`];
      });
      const over = f.servers === undefined ? '' : ', over one server';
      return `${f.label} (${f.unit}) ${f.better === 'higher' ? '↑' : '↓'}${over}: ${cells.join(', ')}`;
    });
}

/** A figure's value in its unit, compact: 12.3k, 1.23M, 58.4, 1,234. */
export function formatValue(value: number, unit: string): string {
  if (unit === '%') return value.toFixed(1);
  if (unit === 'µs' || unit === 'ms') return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
  if (unit === 'KiB') return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
  if (unit === 'MB' || unit === 'MB/s') return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  if (unit === 'cores') return value.toFixed(2);
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/** A latency in µs, switching to ms from 10 ms: "58.4 µs", "1,234 µs", "13.6 ms". */
export function formatLatency(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${formatValue(us, 'µs')} µs`;
}

function fmtRatio(ratio: number | undefined): string {
  if (ratio === undefined) return '–';
  // Against a reference near zero (W7's external memory of transports that keep no buffer per connection).
  if (ratio >= 1000) return '>999×';
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

function fmtLoad(load: number[]): string {
  return load.map((l) => l.toFixed(2)).join(' ');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
