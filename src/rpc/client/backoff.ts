export interface BackoffOptions {
  /** First delay in ms. Default 100. */
  initialDelayMs?: number;
  /** Largest delay in ms. Default 5000. */
  maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
}

/**
 * Exponential backoff with jitter: attempt n waits a random time in [d/2, d], where
 * d = min(maxDelayMs, initialDelayMs * multiplier^n). The jitter keeps many clients that lost
 * the same server from reconnecting in lockstep.
 */
export class Backoff {
  private attempt = 0;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly multiplier: number;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialDelayMs = options.initialDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.multiplier = options.multiplier ?? 2;
  }

  next(): number {
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * this.multiplier ** this.attempt);
    this.attempt++;
    return ceiling / 2 + (this.random() * ceiling) / 2;
  }

  reset(): void {
    this.attempt = 0;
  }
}
