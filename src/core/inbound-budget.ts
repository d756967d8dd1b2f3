import { InboundBudgetError } from './errors.js';

/** What the budget can close: a connection. */
export interface BudgetHolder {
  destroy(reason: Error): void;
}

/**
 * One listener's inbound memory: the bytes every connection's FrameReader holds (partial
 * frames, and whole ones waiting while reading is paused), counted together against
 * `maxInboundBytes`, so a crowd of peers that each send half a frame and stall costs at most
 * the budget, not connections x maxFrameBytes.
 *
 * When a charge takes the total over the limit, connections are closed with
 * `ERR_INBOUND_BUDGET`, the one holding the most bytes first (among equals, the one that has
 * held bytes the longest), until the total is back within the limit. The closed connection
 * may be another than the one whose bytes just arrived: the largest holder is the likeliest
 * offender, and a small, fast frame is not refused because of it.
 */
export class InboundBudget {
  /** Connections holding bytes, in the order they started holding them. */
  private readonly charges = new Map<BudgetHolder, number>();
  private total = 0;

  constructor(readonly limit: number) {}

  /** Bytes held by all connections together. */
  get held(): number {
    return this.total;
  }

  /** Records that `holder` now holds `bytes`; closes connections if that breaks the budget. */
  charge(holder: BudgetHolder, bytes: number): void {
    const previous = this.charges.get(holder) ?? 0;
    if (bytes === previous) return;
    this.total += bytes - previous;
    // Map.set keeps a key's place: the order stays that of when each holder started holding.
    if (bytes === 0) this.charges.delete(holder);
    else this.charges.set(holder, bytes);
    if (bytes > previous && this.total > this.limit) this.enforce();
  }

  private enforce(): void {
    while (this.total > this.limit) {
      let victim: BudgetHolder | undefined;
      let most = 0;
      for (const [holder, bytes] of this.charges) {
        if (bytes > most) {
          victim = holder;
          most = bytes;
        }
      }
      if (victim === undefined) return;
      const error = new InboundBudgetError(most, this.total, this.limit);
      // Released first: destroying charges 0 again, which is then a no-op.
      this.charge(victim, 0);
      victim.destroy(error);
    }
  }
}
