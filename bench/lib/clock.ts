/**
 * Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC, which process.hrtime reads
 * on Linux): the same clock in every process of a run, so times taken in the load generator,
 * its helper processes and the server can be subtracted from one another.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
