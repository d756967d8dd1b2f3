import { STREAM_ITEM_SIZE, jsonPayload } from './config.js';
import type { ServerHooks } from './driver.js';
import { collectGarbage } from './gc.js';
import type { Server } from 'node:net';
import { monotonicMs } from './clock.js';
import type { ConnectionsAccepted, EventsReceived, MemorySnapshot, ServerWindow } from './ipc.js';

const RSS_SAMPLE_MS = 50;

/**
 * What the server process measures about itself in a window: CPU time (process.cpuUsage),
 * peak RSS (sampled every 50 ms, plus at both ends), the requests and events its handlers
 * saw, and the connections its listening socket accepted. The handlers' cost is one increment
 * (and one compare, for events).
 */
export class ServerStats {
  private requests = 0;
  private events = 0;
  private expectEvents = Number.POSITIVE_INFINITY;
  private firstEventAt = 0;
  private lastExpectedAt = 0;
  private onAllEvents: (() => void) | undefined;
  private connections = 0;
  private expectConnections = Number.POSITIVE_INFINITY;
  private lastExpectedConnectionAt = 0;
  private onAllConnections: (() => void) | undefined;
  private startedAt = 0;
  private cpuStart: NodeJS.CpuUsage = process.cpuUsage();
  private peakRss = 0;
  private sampler: NodeJS.Timeout | undefined;
  private readonly items = new Map<number, readonly unknown[]>();
  /** hrtime (µs) of every measured window, so a CPU profile can be cut to them. */
  readonly windows: { start: number; end: number }[] = [];

  readonly hooks: ServerHooks = {
    request: () => {
      this.requests++;
    },
    event: () => {
      const n = ++this.events;
      if (n === 1) this.firstEventAt = performance.now();
      if (n === this.expectEvents) {
        this.lastExpectedAt = performance.now();
        this.onAllEvents?.();
      }
    },
    streamItems: (count) => this.streamItems(count),
  };

  /** Counts the connections `server` accepts (a 'connection' listener after the transport's own). */
  watch(server: Server): void {
    server.on('connection', () => {
      if (++this.connections === this.expectConnections) {
        this.lastExpectedConnectionAt = monotonicMs();
        this.onAllConnections?.();
      }
    });
  }

  begin(expectEvents: number | undefined, expectConnections: number | undefined): void {
    collectGarbage();
    this.requests = 0;
    this.events = 0;
    this.expectEvents = expectEvents ?? Number.POSITIVE_INFINITY;
    this.firstEventAt = 0;
    this.lastExpectedAt = 0;
    this.onAllEvents = undefined;
    this.connections = 0;
    this.expectConnections = expectConnections ?? Number.POSITIVE_INFINITY;
    this.lastExpectedConnectionAt = 0;
    this.onAllConnections = undefined;
    this.peakRss = process.memoryUsage.rss();
    clearInterval(this.sampler);
    this.sampler = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS);
    this.sampler.unref();
    // A window begun again before it ended (event warm-up) starts over.
    const open = this.windows.at(-1);
    if (open !== undefined && Number.isNaN(open.end)) open.start = hrtimeUs();
    else this.windows.push({ start: hrtimeUs(), end: Number.NaN });
    this.startedAt = performance.now();
    this.cpuStart = process.cpuUsage();
  }

  end(): ServerWindow {
    const cpu = process.cpuUsage(this.cpuStart);
    const elapsedMs = performance.now() - this.startedAt;
    const window = this.windows.at(-1);
    if (window !== undefined && Number.isNaN(window.end)) window.end = hrtimeUs();
    clearInterval(this.sampler);
    this.sampler = undefined;
    this.sampleRss();
    return {
      elapsedMs,
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      requests: this.requests,
      events: this.events,
      peakRssBytes: this.peakRss,
    };
  }

  /** Resolves once the events announced by `begin` arrived, or after `capMs` with what came. */
  waitEvents(capMs: number): Promise<EventsReceived> {
    return new Promise((resolve) => {
      const report = (complete: boolean): void => {
        clearTimeout(timer);
        this.onAllEvents = undefined;
        const last = complete ? this.lastExpectedAt : performance.now();
        resolve({ received: this.events, spanMs: this.events > 0 ? last - this.firstEventAt : 0, complete });
      };
      const timer = setTimeout(() => report(false), capMs);
      if (this.events >= this.expectEvents) report(true);
      else this.onAllEvents = () => report(true);
    });
  }

  /** Resolves once the connections announced by `begin` were accepted, or after `capMs` with what came. */
  waitConnections(capMs: number): Promise<ConnectionsAccepted> {
    return new Promise((resolve) => {
      const report = (complete: boolean): void => {
        clearTimeout(timer);
        this.onAllConnections = undefined;
        resolve({ accepted: this.connections, lastAt: complete ? this.lastExpectedConnectionAt : monotonicMs(), complete });
      };
      const timer = setTimeout(() => report(false), capMs);
      if (this.connections >= this.expectConnections) report(true);
      else this.onAllConnections = () => report(true);
    });
  }

  /** The process's memory after a full GC. */
  memory(): MemorySnapshot {
    collectGarbage();
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    return { rss, heapUsed, external, arrayBuffers };
  }

  private sampleRss(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakRss) this.peakRss = rss;
  }

  private streamItems(count: number): readonly unknown[] {
    let items = this.items.get(count);
    if (items === undefined) {
      const item = jsonPayload(STREAM_ITEM_SIZE);
      items = Array.from({ length: count }, () => item);
      this.items.set(count, items);
    }
    return items;
  }
}

/** The clock V8's CPU profiles use for their timestamps. */
function hrtimeUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
