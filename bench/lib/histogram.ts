import hdr from 'hdr-histogram-js';
import type { LatencySummary } from './ipc.js';

/**
 * Request latencies in an HDR histogram: recorded in nanoseconds with 3 significant digits
 * (so 0.1% resolution at any magnitude), reported in microseconds. Histograms of several
 * processes (W6) travel encoded and are added up.
 */
export class LatencyHistogram {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120 * 1e9,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  /** Records one latency given in milliseconds (performance.now() deltas). */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1e6)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /** The recorded values, compressed, for another process to `add`. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  /** Adds the values of an `encode`d histogram. */
  add(encoded: string): void {
    this.histogram.add(hdr.decodeFromCompressedBase64(encoded, 32, false));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    return {
      p50: us(h.getValueAtPercentile(50)),
      p99: us(h.getValueAtPercentile(99)),
      p999: us(h.getValueAtPercentile(99.9)),
      mean: us(h.mean),
      max: us(h.maxValue),
    };
  }
}
