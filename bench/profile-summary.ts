/**
 * Reads a V8 .cpuprofile (node --cpu-prof) in a terminal: the top functions by self time, and
 * self time by origin (this library's layers, each package, Node internals, GC).
 *
 *   npm run bench:top -- <file.cpuprofile> [--top 20] [--all] [--window <file.window.json>]
 *
 * When `<file>.window.json` exists (bench:profile writes it for the server), only samples
 * inside the measured windows count, so start-up and warm-up stay out; `--all` counts every
 * sample. A load-generator profile uses its server's window file (`--window`): both processes
 * share the clock V8 stamps samples with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Window {
  start: number;
  end: number;
}

export interface SummaryOptions {
  top?: number;
  /** Count every sample, even outside the measured windows. */
  all?: boolean;
  /** Where the measured windows are; default `<path>.window.json`. */
  windowFile?: string;
}

export function summarizeProfile(path: string, options: SummaryOptions = {}): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const windows = options.all === true ? undefined : readWindows(options.windowFile ?? `${path}.window.json`);
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));

  const selfByFunction = new Map<string, { frame: CallFrame; us: number }>();
  const selfByOrigin = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  const count = profile.samples.length;
  for (let i = 0; i < count; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const next = i + 1 < count ? at + (profile.timeDeltas[i + 1] ?? 0) : profile.endTime;
    const duration = Math.max(0, next - at);
    if (windows !== undefined && !windows.some((w) => at >= w.start && at <= w.end)) continue;
    const frame = frames.get(profile.samples[i] as number);
    if (frame === undefined) continue;
    total += duration;
    if (frame.functionName === '(idle)') {
      idle += duration;
      continue;
    }
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}|${frame.columnNumber}`;
    const entry = selfByFunction.get(key) ?? { frame, us: 0 };
    entry.us += duration;
    selfByFunction.set(key, entry);
    const origin = originOf(frame);
    selfByOrigin.set(origin, (selfByOrigin.get(origin) ?? 0) + duration);
  }

  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const ms = (us: number): string => (us / 1000).toFixed(1).padStart(8);
  const top = options.top ?? 20;
  const lines: string[] = [];
  lines.push(`profile: ${path}`);
  lines.push(
    windows === undefined
      ? 'samples: whole profile (start-up and warm-up included)'
      : `samples: measured window(s) only (${windows.length}, ${((windows.reduce((s, w) => s + w.end - w.start, 0)) / 1e6).toFixed(2)} s)`,
  );
  lines.push(`busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (${((100 * idle) / Math.max(1, total)).toFixed(0)}% of the window)`);
  lines.push('', `top ${top} functions by self time (% of busy time):`, `${'self ms'.padStart(8)} ${'%'.padStart(6)}  function  location`);
  const ranked = [...selfByFunction.values()].sort((a, b) => b.us - a.us).slice(0, top);
  for (const { frame, us } of ranked) lines.push(`${ms(us)} ${pct(us)}  ${frame.functionName || '(anonymous)'}  ${location(frame)}`);
  lines.push('', 'self time by origin:');
  for (const [origin, us] of [...selfByOrigin].sort((a, b) => b[1] - a[1])) lines.push(`${ms(us)} ${pct(us)}  ${origin}`);
  return lines.join('\n');
}

function readWindows(path: string): Window[] | undefined {
  if (!existsSync(path)) return undefined;
  const { windows } = JSON.parse(readFileSync(path, 'utf8')) as { windows: Window[] };
  const complete = windows.filter((w) => Number.isFinite(w.start) && Number.isFinite(w.end));
  return complete.length > 0 ? complete : undefined;
}

/** A path a reader recognizes: src/rpc/x.js:12, @nestjs/core/y.js:3, node:internal/z:4. */
function location(frame: CallFrame): string {
  if (frame.url === '') return '(native)';
  const line = `:${frame.lineNumber + 1}`;
  const url = frame.url;
  const dist = url.indexOf('/bench/dist/');
  if (dist !== -1) return `${url.slice(dist + '/bench/dist/'.length)}${line}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return `${url.slice(modules + '/node_modules/'.length)}${line}`;
  return `${url}${line}`;
}

function originOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : 'V8 built-ins (JSON, Buffer, ...)';
  const src = url.match(/\/bench\/dist\/src\/([^/]+)\//);
  if (src !== null) return `protosocket src/${src[1]}`;
  if (url.includes('/bench/dist/bench/')) return 'bench harness';
  const pkg = url.match(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (pkg !== null) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

function main(argv: string[]): void {
  let file: string | undefined;
  let windowFile: string | undefined;
  let top = 20;
  let all = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--top') top = Number(argv[++i]);
    else if (arg === '--window') windowFile = argv[++i];
    else if (arg === '--all') all = true;
    else file = arg;
  }
  if (file === undefined || !(top > 0)) {
    console.error('usage: npm run bench:top -- <file.cpuprofile> [--top N] [--all] [--window <file.window.json>]');
    process.exit(2);
  }
  console.log(summarizeProfile(file, { top, all, ...(windowFile === undefined ? {} : { windowFile }) }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
