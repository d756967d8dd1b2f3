/**
 * A hand-written SVG chart of a run (no dependencies), shown by the README:
 *
 *   1. throughput per workload, each transport relative to Nest TCP (log2 scale)
 *   2. the same for the call styles a user writes, the other codecs, 1,000 connections (W6),
 *      4,096 calls in flight (W8) and one client over 3 servers (W9)
 *   3. W1 latency percentiles in µs (log scale, so p50 and p99.9 fit one axis), callback and
 *      awaited calls
 *   4. W7: server memory per idle connection (KiB) and the time to accept them all
 *
 * run.ts writes it with every run; to redraw from a results file:
 *   node bench/dist/bench/lib/chart.js bench/results/latest.json   (writes chart.svg beside it)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DriverName } from './registry.js';
import { type FigureResult, type Summary, formatValue } from './report.js';

const WIDTH = 960;
const HEIGHT = 1_400;
const LEFT = 70;
const RIGHT = 20;
const PLOT_WIDTH = WIDTH - LEFT - RIGHT;

const COLORS: Record<DriverName, string> = {
  'nest-protosocket': '#1f6fd1',
  rpc: '#17a2b8',
  'nest-tcp': '#d9534f',
  'raw-net': '#7a7a7a',
};

interface Group {
  figure: string;
  label: string;
}

const THROUGHPUT: Group[] = [
  { figure: 'w2.rate', label: 'W2 req/s (256 in flight)' },
  { figure: 'w3-json.mbps', label: 'W3 MB/s, 64 KiB JSON' },
  { figure: 'w3-bytes.mbps', label: 'W3 MB/s, 64 KiB Buffer' },
  { figure: 'w4.rate', label: 'W4 events/s' },
  { figure: 'w5.rate', label: 'W5 streamed msg/s' },
];

const VARIANTS: Group[] = [
  { figure: 'w2-await.rate', label: 'W2 awaited' },
  { figure: 'w5-await.rate', label: 'W5 for await' },
  { figure: 'w2-msgpack.rate', label: 'W2 msgpack' },
  { figure: 'w2-msgpack-js.rate', label: 'W2 msgpack (JS)' },
  { figure: 'w2-protobuf.rate', label: 'W2 protobuf' },
  { figure: 'w6.rate', label: 'W6 1,000 conns' },
  { figure: 'w8.rate', label: 'W8 4,096 in flight' },
  { figure: 'w9-3.rate', label: 'W9 3 servers' },
];

const LATENCY: Group[] = [
  { figure: 'w1.p50', label: 'p50' },
  { figure: 'w1.p99', label: 'p99' },
  { figure: 'w1.p999', label: 'p99.9' },
  { figure: 'w1-await.p50', label: 'p50 awaited' },
  { figure: 'w1-await.p99', label: 'p99 awaited' },
];

const IDLE: Group[] = [
  { figure: 'w7.rss', label: 'RSS KiB / connection' },
  { figure: 'w7.heapUsed', label: 'JS heap KiB / connection' },
  { figure: 'w7.external', label: 'external KiB / connection' },
  { figure: 'w7.accept', label: 'ms to accept them all' },
];

export function renderChart(summary: Summary): string {
  const figures = new Map(summary.figures.map((f) => [f.id, f]));
  const drivers = summary.drivers;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(LEFT, 28, 'nestjs-protosocket: side by side with Nest TCP and raw net', { size: 18, weight: 'bold' }),
    text(LEFT, 48, subtitle(summary), { size: 11, fill: '#555' }),
  );
  // Legend
  let x = LEFT;
  for (const driver of drivers) {
    out.push(`<rect x="${x}" y="62" width="12" height="12" fill="${COLORS[driver.name]}"/>`, text(x + 17, 72, driver.label));
    x += 30 + driver.label.length * 7;
  }
  out.push(...ratioPanel(figures, drivers, THROUGHPUT, 'Throughput relative to Nest TCP (log scale, higher is better)', 100, 330));
  out.push(
    ...ratioPanel(
      figures,
      drivers,
      VARIANTS,
      'Awaited calls, codecs, W6 connections, W8 in flight: relative to Nest TCP (log scale, higher is better)',
      470,
      330,
    ),
  );
  out.push(...latencyPanel(figures, drivers, 850, 220));
  out.push(...idlePanel(figures, drivers, 1_120, 230));
  out.push(text(LEFT, HEIGHT - 10, 'Method, workloads and the full tables: BENCHMARKS.md. Each bar is the median of the repetitions; hover a bar for its absolute value.', { size: 10, fill: '#777' }));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function subtitle(summary: Summary): string {
  const m = summary.meta;
  return `${m.date.slice(0, 10)} · Node ${m.node} · ${m.cpus} · medians of ${m.reps} run(s) · ${m.mode === 'full' ? 'shared machine: see BENCHMARKS.md' : `${m.mode} run, not for comparison`}`;
}

/**
 * Grouped bars of value / Nest TCP on a log2 axis; Nest TCP is the dashed 1× line. A figure
 * Nest TCP has no cell in (a codec variant) is relative to its reference figure's Nest TCP cell.
 */
function ratioPanel(figures: Map<string, FigureResult>, drivers: Summary['drivers'], groups: Group[], title: string, top: number, height: number): string[] {
  const out: string[] = [text(LEFT, top, title, { size: 14, weight: 'bold' })];
  const plotTop = top + 25;
  const plotBottom = plotTop + height - 70;
  const ratios = groups.flatMap((t) => drivers.map((d) => figures.get(t.figure)?.cells[d.name]?.vsNestTcp ?? Number.NaN)).filter(Number.isFinite);
  // One power of two of room below the smallest bar, so a bar under 1× is still visible.
  const lowExp = Math.min(-1, Math.floor(Math.log2(Math.min(1, ...ratios))) - 1);
  const highExp = Math.max(2, Math.ceil(Math.log2(Math.max(1, ...ratios))));
  const y = (ratio: number): number => plotBottom - ((Math.log2(ratio) - lowExp) / (highExp - lowExp)) * (plotBottom - plotTop);

  for (let e = lowExp; e <= highExp; e++) {
    const ratio = 2 ** e;
    const yy = y(ratio);
    out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${round(yy)}" y2="${round(yy)}" stroke="${e === 0 ? '#d9534f' : '#e5e5e5'}"${e === 0 ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(text(LEFT - 8, yy + 4, ratio >= 1 ? `${ratio}×` : `1/${1 / ratio}×`, { anchor: 'end', fill: '#555' }));
  }
  const groupWidth = PLOT_WIDTH / groups.length;
  const barWidth = Math.min(34, (groupWidth - 30) / drivers.length);
  groups.forEach((t, g) => {
    const figure = figures.get(t.figure);
    const groupLeft = LEFT + g * groupWidth + (groupWidth - barWidth * drivers.length) / 2;
    drivers.forEach((d, i) => {
      const ratio = figure?.cells[d.name]?.vsNestTcp;
      if (ratio === undefined || !(ratio > 0)) return;
      const bx = groupLeft + i * barWidth;
      const by = y(Math.max(ratio, 2 ** lowExp));
      out.push(`<rect x="${round(bx + 2)}" y="${round(by)}" width="${round(barWidth - 4)}" height="${round(Math.max(1, plotBottom - by))}" fill="${COLORS[d.name]}"><title>${escape(`${d.label}: ${formatValue(figure?.cells[d.name]?.median ?? 0, figure?.unit ?? '')} ${figure?.unit ?? ''}`)}</title></rect>`);
      out.push(text(bx + barWidth / 2, by - 4, ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1), { anchor: 'middle', size: 10 }));
    });
    const center = LEFT + g * groupWidth + groupWidth / 2;
    out.push(text(center, plotBottom + 18, t.label, { anchor: 'middle', weight: 'bold' }));
    const reference = figure?.reference === undefined ? undefined : figures.get(figure.reference);
    const base = figure?.cells['nest-tcp'] ?? reference?.cells['nest-tcp'];
    if (base !== undefined && figure !== undefined) {
      // A variant without a Nest TCP cell of its own is relative to its reference: "(W2)".
      const which = figure.cells['nest-tcp'] === undefined && reference !== undefined ? ` (${reference.label.split(' ')[0]})` : '';
      out.push(text(center, plotBottom + 33, `Nest TCP = ${formatValue(base.median, figure.unit)}${which}`, { anchor: 'middle', size: 10, fill: '#555' }));
    }
  });
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${plotBottom}" y2="${plotBottom}" stroke="#999"/>`);
  return out;
}

/** W1 percentiles, absolute µs on a log10 axis with 1-2-5 gridlines. */
function latencyPanel(figures: Map<string, FigureResult>, drivers: Summary['drivers'], top: number, height: number): string[] {
  const out: string[] = [text(LEFT, top, 'W1 latency, one request in flight, 64 B: callback and awaited calls (µs, log scale, lower is better)', { size: 14, weight: 'bold' })];
  const plotTop = top + 25;
  const plotBottom = plotTop + height - 40;
  const values = LATENCY.flatMap((l) => drivers.map((d) => figures.get(l.figure)?.cells[d.name]?.median ?? Number.NaN)).filter((v) => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 100)) - 0.3);
  const high = niceCeiling(Math.max(...values, 200) * 1.15);
  const y = (value: number): number => plotBottom - ((Math.log10(value) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * (plotBottom - plotTop);
  for (let decade = low; decade < high * 1.001; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const value = decade * step;
      if (value > high * 1.001) break;
      const yy = y(value);
      out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${round(yy)}" y2="${round(yy)}" stroke="${step === 1 ? '#d5d5d5' : '#efefef'}"/>`);
      out.push(text(LEFT - 8, yy + 4, value.toLocaleString('en-US'), { anchor: 'end', fill: '#555' }));
    }
  }
  const groupWidth = PLOT_WIDTH / LATENCY.length;
  const barWidth = Math.min(48, (groupWidth - 40) / drivers.length);
  LATENCY.forEach((l, g) => {
    const figure = figures.get(l.figure);
    const groupLeft = LEFT + g * groupWidth + (groupWidth - barWidth * drivers.length) / 2;
    drivers.forEach((d, i) => {
      const value = figure?.cells[d.name]?.median;
      if (value === undefined || !(value > 0)) return;
      const bx = groupLeft + i * barWidth;
      const by = y(value);
      out.push(`<rect x="${round(bx + 3)}" y="${round(by)}" width="${round(barWidth - 6)}" height="${round(Math.max(1, plotBottom - by))}" fill="${COLORS[d.name]}"><title>${escape(`${d.label}: ${formatValue(value, 'µs')} µs`)}</title></rect>`);
      out.push(text(bx + barWidth / 2, by - 4, formatValue(value, 'µs'), { anchor: 'middle', size: 10 }));
    });
    out.push(text(LEFT + g * groupWidth + groupWidth / 2, plotBottom + 18, l.label, { anchor: 'middle', weight: 'bold' }));
  });
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${plotBottom}" y2="${plotBottom}" stroke="#999"/>`);
  return out;
}

/**
 * W7 as small multiples: each group (a memory figure, the accept time) on its own linear
 * scale from zero, the value written on each bar. A negative growth draws no bar.
 */
function idlePanel(figures: Map<string, FigureResult>, drivers: Summary['drivers'], top: number, height: number): string[] {
  const out: string[] = [text(LEFT, top, 'W7: 10,000 idle connections, server memory per connection and time to accept them (lower is better)', { size: 14, weight: 'bold' })];
  const plotTop = top + 25;
  const plotBottom = plotTop + height - 50;
  const groupWidth = PLOT_WIDTH / IDLE.length;
  const barWidth = Math.min(40, (groupWidth - 40) / drivers.length);
  IDLE.forEach((group, g) => {
    const figure = figures.get(group.figure);
    const values = drivers.map((d) => figure?.cells[d.name]?.median);
    const max = Math.max(0, ...values.filter((v): v is number => v !== undefined));
    const groupLeft = LEFT + g * groupWidth + (groupWidth - barWidth * drivers.length) / 2;
    drivers.forEach((d, i) => {
      const value = values[i];
      if (value === undefined) return;
      const bx = groupLeft + i * barWidth;
      const by = max > 0 && value > 0 ? plotBottom - (value / max) * (plotBottom - plotTop - 14) : plotBottom;
      const shown = formatValue(value, figure?.unit ?? '');
      out.push(`<rect x="${round(bx + 3)}" y="${round(by)}" width="${round(barWidth - 6)}" height="${round(Math.max(1, plotBottom - by))}" fill="${COLORS[d.name]}"><title>${escape(`${d.label}: ${shown} ${figure?.unit ?? ''}`)}</title></rect>`);
      out.push(text(bx + barWidth / 2, by - 4, shown, { anchor: 'middle', size: 10 }));
    });
    out.push(text(LEFT + g * groupWidth + groupWidth / 2, plotBottom + 18, group.label, { anchor: 'middle', weight: 'bold' }));
  });
  out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${plotBottom}" y2="${plotBottom}" stroke="#999"/>`);
  out.push(text(LEFT, plotBottom + 36, 'Each group on its own linear scale from zero. Memory: growth after a GC, idle connections over none, divided by the connections.', { size: 10, fill: '#555' }));
  return out;
}

/** The smallest 1-2-5 step value at or above `value`. */
function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

interface TextStyle {
  size?: number;
  weight?: 'bold';
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
}

function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attrs = [`x="${round(x)}"`, `y="${round(y)}"`];
  if (style.size !== undefined) attrs.push(`font-size="${style.size}"`);
  if (style.weight !== undefined) attrs.push(`font-weight="${style.weight}"`);
  if (style.anchor !== undefined) attrs.push(`text-anchor="${style.anchor}"`);
  attrs.push(`fill="${style.fill ?? '#222'}"`);
  return `<text ${attrs.join(' ')}>${escape(content)}</text>`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function escape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const input = process.argv[2];
  if (input === undefined) {
    console.error('usage: node bench/dist/bench/lib/chart.js <results.json>');
    process.exit(2);
  }
  const output = join(dirname(input), 'chart.svg');
  writeFileSync(output, renderChart(JSON.parse(readFileSync(input, 'utf8')) as Summary));
  console.log(`wrote ${output}`);
}
