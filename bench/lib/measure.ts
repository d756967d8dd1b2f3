/** Clocks and arithmetic every runner uses, in the load generator and its helper processes. */

/** This process's CPU time (user + system) since construction. */
export class CpuMeter {
  private readonly start = process.cpuUsage();
  private readonly startedAt = performance.now();
  private endedAt: number | undefined;

  read(): number {
    const used = process.cpuUsage(this.start);
    this.endedAt = performance.now();
    return used.user + used.system;
  }

  get elapsedMs(): number {
    return (this.endedAt ?? performance.now()) - this.startedAt;
  }
}

export function clientCost(cpuUs: number, operations: number, elapsedMs: number): { clientCpuUsPerOp: number; clientCpuLoad: number } {
  return { clientCpuUsPerOp: cpuPerOp(cpuUs, operations), clientCpuLoad: elapsedMs > 0 ? cpuUs / 1000 / elapsedMs : 0 };
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

export function cpuPerOp(cpuUs: number, operations: number): number {
  return operations > 0 ? cpuUs / operations : 0;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([promise, timedOut]).finally(() => clearTimeout(timer));
}

/** Transports fail with Errors, strings (Nest's error bodies) or plain objects. */
export function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
